"""ParallelRunConfig / ParallelRunStep: validation (no container), then real jobs in containers:
mini-batches, init once per worker, append_row and summary_only, retries and failure limits, a
hung run() killed, progress in the step log, the logs layout, tabular inputs."""
from __future__ import annotations

import json
import textwrap

import pytest


def _env(name: str = "prs-env"):
    from amlocal.core import Environment
    return Environment(name)


def _src(tmp_path, **scripts) -> str:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


def _config(src: str, script: str = "score.py", **kwargs):
    from amlocal.pipeline.steps import ParallelRunConfig
    args = dict(environment=_env(), entry_script=script, error_threshold=-1,
                output_action="append_row", compute_target="local", node_count=1,
                source_directory=src)
    args.update(kwargs)
    return ParallelRunConfig(**args)


def _files(workspace, tmp_path, count: int, name: str = "docs"):
    from amlocal.core import Dataset, Datastore
    lake = tmp_path / "lake" / name
    lake.mkdir(parents=True)
    for i in range(count):
        (lake / f"f{i:02d}.txt").write_text(f"content {i}\n")
    store = Datastore.register(workspace, "lake", url=str(tmp_path / "lake"))
    return Dataset.File.from_files((store, name))


# -- validation, no container -------------------------------------------------------------------
def test_mini_batch_size_strings_become_ints(tmp_path):
    src = _src(tmp_path, score="def run(mb):\n    return mb\n")
    assert _config(src, mini_batch_size="10").mini_batch_size == 10
    assert _config(src, mini_batch_size="10KB").mini_batch_size == 10240
    assert _config(src, mini_batch_size="1mb").mini_batch_size == 1048576
    assert _config(src, mini_batch_size="1GB").mini_batch_size == 1073741824
    assert _config(src, mini_batch_size=7).mini_batch_size == 7
    with pytest.raises(ValueError, match="regex"):
        _config(src, mini_batch_size="10 MB")
    with pytest.raises(ValueError, match="int or str"):
        _config(src, mini_batch_size=1.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"environment": "myenv"}, "instance of azureml.core.Environment"),
    ({"output_action": "append_rows"}, "summary_only or append_row"),
    ({"error_threshold": -2}, "error_threshold"),
    ({"error_threshold": "5"}, "error_threshold"),
    ({"allowed_failed_count": -5}, "allowed_failed_count"),
    ({"allowed_failed_percent": 101}, "between 0 and 100"),
    ({"allowed_failed_percent": "5"}, "int or float"),
    ({"mini_batch_size": 5, "partition_keys": ["a"]}, "mutually exclusive"),
    ({"partition_keys": "country"}, "list"),
    ({"partition_keys": ["a", 1]}, "not a str"),
    ({"process_count_per_node": 0}, "process_count_per_node"),
    ({"node_count": 0}, "node_count"),
    ({"run_invocation_timeout": 0}, "run_invocation_timeout"),
    ({"run_max_try": 0}, "run_max_try"),
    ({"append_row_file_name": "out/put.txt"}, "valid UNIX file name"),
    ({"append_row_file_name": "a:b"}, "valid UNIX file name"),
])
def test_config_refuses_what_azure_refuses(tmp_path, kwargs, message):
    src = _src(tmp_path, score="def run(mb):\n    return mb\n")
    with pytest.raises(ValueError, match=message):
        _config(src, **kwargs)


def test_config_accepts_pipeline_parameters_and_round_trips_through_yaml(workspace, tmp_path):
    from amlocal.pipeline.core import PipelineParameter
    from amlocal.pipeline.steps import ParallelRunConfig
    src = _src(tmp_path, score="def run(mb):\n    return mb\n")
    keys = PipelineParameter("keys", default_value=json.dumps(["country"]))
    cfg = _config(src, partition_keys=keys, process_count_per_node=PipelineParameter("p", 2),
                  run_max_try=PipelineParameter("tries", 4), allowed_failed_count=3,
                  allowed_failed_percent=12.5, environment_variables={"A": "1"},
                  append_row_file_name="scores.txt", output_action="APPEND_ROW",
                  compute_target="cpu-cluster")
    with pytest.raises(ValueError, match="json dump"):
        _config(src, partition_keys=PipelineParameter("k2", default_value="country"))
    path = tmp_path / "prc.yml"
    cfg.save_to_yaml(str(path))
    back = ParallelRunConfig.load_yaml(workspace, str(path))
    assert back.partition_keys == ["country"] and back.process_count_per_node == 2
    assert back.run_max_try == 4 and back.allowed_failed_count == 3
    assert back.allowed_failed_percent == 12.5 and back.environment_variables == {"A": "1"}
    assert back.append_row_file_name == "scores.txt" and back.entry_script == "score.py"
    assert back.environment.name == "prs-env" and back.compute_target.name == "cpu-cluster"
    cfg2 = _config(src, mini_batch_size="2KB")
    cfg2.save_to_yaml(str(path))
    assert ParallelRunConfig.load_yaml(workspace, str(path)).mini_batch_size == 2048


def test_step_validates_inputs_output_and_arguments(workspace, tmp_path):
    from amlocal.core import Dataset, Datastore
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import PipelineData
    from amlocal.pipeline.steps import ParallelRunStep
    src = _src(tmp_path, score="def run(mb):\n    return mb\n")
    files = _files(workspace, tmp_path, 2)
    (tmp_path / "lake" / "t.csv").write_text("a,b\n1,2\n")
    table = Dataset.Tabular.from_delimited_files((Datastore.get(workspace, "lake"), "t.csv"))
    out = OutputFileDatasetConfig("scores")
    cfg = _config(src)

    def step(**kw):
        args = dict(name="prs", parallel_run_config=cfg, inputs=[files.as_named_input("docs")],
                    output=out)
        args.update(kw)
        return ParallelRunStep(**args)

    with pytest.raises(ValueError, match="at least one element"):
        step(inputs=[])
    with pytest.raises(ValueError, match="same type"):
        step(inputs=[files.as_named_input("docs"), table.as_named_input("table")])
    with pytest.raises(ValueError, match="Step input must be of any type"):
        step(inputs=[PipelineData("raw")])
    with pytest.raises(ValueError, match="specify output"):
        step(output=None)
    with pytest.raises(ValueError, match="keyword argument"):
        step(arguments=["value", "--flag"])
    with pytest.raises(ValueError, match="'mini_batch_size' is a reserved argument"):
        step(arguments=["--mini_batch_size", "3"])
    with pytest.raises(ValueError, match="'output' is a reserved argument"):
        step(arguments=["--output=x"])
    with pytest.raises(ValueError, match="parallel_run_config must be"):
        step(parallel_run_config={"entry_script": "score.py"})
    with pytest.raises(ValueError, match="entry_script doesn't exist"):
        step(parallel_run_config=_config(src, script="missing.py"))
    with pytest.raises(ValueError, match="source_directory doesn't exist"):
        step(parallel_run_config=_config(str(tmp_path / "nope")))
    ok = step(output=None, parallel_run_config=_config(src, output_action="summary_only"),
              arguments=["--rank", "3"], inputs=[files.as_named_input("docs").as_download()])
    assert ok.inputs[0].mode == "mount"   # file inputs are switched to mount, as on Azure
    args = [str(a) for a in ok.arguments]
    assert args[:4] == ["--client_sdk_version", args[1], "--scoring_module_name", "score.py"]
    assert args[args.index("--mini_batch_size") + 1] == "10"   # FileDataset default
    assert args[-4:] == ["--rank", "3", "--input_fds_0", "docs"]
    tab = step(inputs=[table.as_named_input("table")])
    assert [str(a) for a in tab.arguments][-2:] == ["--input_ds_0", "table"]
    assert str(tab.arguments[tab.arguments.index("--mini_batch_size") + 1]) == "1048576"
    with pytest.raises(ValueError, match="direct for partitioned dataset"):
        step(parallel_run_config=_config(src, partition_keys=["k"]),
             inputs=[files.as_named_input("docs").as_mount()])


def _output_files(step_run, name: str, tmp_path) -> list:
    target = tmp_path / f"got-{name}"
    step_run.get_output_data(name).download(str(target))
    return sorted(p for p in target.rglob("*") if p.is_file())


def _output_lines(step_run, name: str, tmp_path, file_name: str = "parallel_run_step.txt"):
    found = [p for p in _output_files(step_run, name, tmp_path) if p.name == file_name]
    assert len(found) == 1, found
    return found[0].read_text().splitlines()


# -- real jobs ----------------------------------------------------------------------------------
SCORE = """
    import argparse
    import os

    from azureml_user.parallel_run import EntryScript

    def init():
        global TAG, LABELS
        parser = argparse.ArgumentParser()
        parser.add_argument("--tag")
        parser.add_argument("--labels_dir")
        args, _ = parser.parse_known_args()
        TAG, LABELS = args.tag, args.labels_dir
        EntryScript().logger.info("init in %s", os.getpid())
        os.makedirs("/tmp/inits", exist_ok=True)
        with open(f"/tmp/inits/{os.getpid()}", "a") as f:
            f.write("init\\n")
        print("INIT", os.getpid(), len(os.listdir("/tmp/inits")))

    def run(mini_batch):
        from azureml.core import Run
        Run.get_context().log("batch_size", len(mini_batch))
        inits = open(f"/tmp/inits/{os.getpid()}").read().count("init")
        side = open(os.path.join(LABELS, "f00.txt")).read().split()[0]
        return [f"{os.path.basename(p)} {os.getpid()} {inits} {len(mini_batch)} {TAG} {side}"
                for p in mini_batch]
"""


@pytest.mark.usefixtures("docker_engine")
def test_file_dataset_job_with_two_processes(workspace, tmp_path, capsys):
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunStep
    src = _src(tmp_path, score=SCORE)
    files = _files(workspace, tmp_path, 9)
    out = OutputFileDatasetConfig("scores")
    from amlocal.core.compute import AmlCompute
    cluster = AmlCompute(workspace, "cpu-cluster")
    labels = files.as_named_input("labels").as_mount("/tmp/labels")   # as Azure's tutorial
    step = ParallelRunStep(
        name="score-files", parallel_run_config=_config(src, mini_batch_size="2",
                                                        process_count_per_node=2,
                                                        compute_target=cluster),
        inputs=[files.as_named_input("docs")], output=out, side_inputs=[labels],
        arguments=["--tag", "T1", "--labels_dir", labels])
    run = Pipeline(workspace, [step]).submit("prs")
    assert run.wait_for_completion(show_output=True) == "Finished"
    shown = capsys.readouterr().out                     # what --wait / show_output streams
    assert "progress: 5/5 mini-batches done, 0 failed" in shown
    s = next(run.get_steps())
    log = s.get_job_log()
    assert "5 mini-batches from 1 input(s); 1 node(s) x 2 process(es)" in log
    assert "progress: 5/5 mini-batches done, 0 failed; items: 9 succeeded, 0 failed" in log
    rows = [line.split() for line in _output_lines(s, "scores", tmp_path)]
    assert sorted(r[0] for r in rows) == [f"f{i:02d}.txt" for i in range(9)]
    assert {r[2] for r in rows} == {"1"}                 # init() ran once in each worker
    assert len({r[1] for r in rows}) == 2                # two worker processes did the work
    assert {r[3] for r in rows} == {"2", "1"}            # mini-batches of 2 files (the last 1)
    assert {(r[4], r[5]) for r in rows} == {("T1", "content")}   # argument and side input
    assert sorted(s.get_metrics()["batch_size"]) == [1, 2, 2, 2, 2]   # flushed by workers
    names = set(s.get_file_names())
    for expected in ("logs/job_progress_overview.txt", "logs/job_result.txt",
                     "logs/sys/master_role.txt", "logs/user/stdout/node0/process000.stdout.txt",
                     "logs/user/stdout/node0/process001.stdout.txt",
                     "logs/user/entry_script_log/node0/process000.log.txt",
                     "logs/sys/node/node0/process001.txt"):
        assert expected in names, sorted(names)


FLAKY = """
    import os

    def run(mini_batch):
        out = []
        for path in mini_batch:
            name = os.path.basename(path)
            if name == "f01.txt":   # fails on its first try only: the retry succeeds
                marker = "/tmp/f01-tried"
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    raise RuntimeError("transient trouble with f01")
            if name == "f03.txt":
                raise ValueError("f03 is broken for good")
            if name == "f04.txt" and os.environ.get("HANG") == "1":
                import time
                time.sleep(600)
            out.append(name)
        return out
"""


@pytest.mark.usefixtures("docker_engine")
def test_retries_failure_limits_and_a_hung_run(workspace, tmp_path):
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import ParallelRunStep
    src = _src(tmp_path, score=FLAKY)
    files = _files(workspace, tmp_path, 6)

    def submit(label, threshold, output_action="append_row", **kwargs):
        cfg = _config(src, mini_batch_size=1, process_count_per_node=2, run_max_try=2,
                      error_threshold=threshold, output_action=output_action, **kwargs)
        out = None           # both kinds of output Azure's samples use; summary_only may have one
        if output_action == "append_row" or label == "hung":
            out = PipelineData(f"out_{label}") if label == "within" else \
                OutputFileDatasetConfig(f"out_{label}")
        step = ParallelRunStep(name=label, parallel_run_config=cfg, output=out,
                               inputs=[files.as_named_input("docs")], allow_reuse=False)
        return Pipeline(workspace, [step]).submit(f"prs-{label}")

    within = submit("within", 1)                       # f03 fails twice: 1 failed file allowed
    exceeded = submit("exceeded", 0)                   # ... none allowed: the step fails
    hung = submit("hung", -1, "summary_only", run_invocation_timeout=3,
                  environment_variables={"HANG": "1"})
    counted = submit("counted", -1, "summary_only", allowed_failed_count=0)

    assert within.wait_for_completion(show_output=False) == "Finished"
    s = next(within.get_steps())
    log = s.get_job_log()
    assert "attempt 1/2 failed: RuntimeError: transient trouble with f01" in log
    assert "attempt 1/2 failed: ValueError: f03 is broken for good" in log
    assert "attempt 2/2 failed: ValueError: f03 is broken for good" in log
    assert "progress: 6/6 mini-batches done, 1 failed; items: 5 succeeded, 1 failed" in log
    assert sorted(_output_lines(s, "out_within", tmp_path)) == [
        "f00.txt", "f01.txt", "f02.txt", "f04.txt", "f05.txt"]
    errors = s.get_file_names()
    assert "logs/user/error.txt" in errors and "logs/job_error.txt" not in errors

    assert exceeded.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    s = next(exceeded.get_steps())
    assert "FAILED: 1 failed items exceed error_threshold=0" in s.get_job_log()
    assert "logs/job_error.txt" in s.get_file_names()
    assert [p.name for p in _output_files(s, "out_exceeded", tmp_path)] == []  # no partial file

    assert hung.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    s = next(hung.get_steps())
    assert _output_files(s, "out_hung", tmp_path) == []     # summary_only writes no file
    log = s.get_job_log()
    assert log.count("run() did not return within run_invocation_timeout=3 s; the process "
                     "was killed") == 2
    assert "items: 4 succeeded, 2 failed" in log          # f03 (error) and f04 (hung)

    assert counted.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    log = next(counted.get_steps()).get_job_log()
    assert "1 failed mini-batches exceed allowed_failed_count=0" in log


TABLE = """
    import os

    def run(mini_batch):
        out = mini_batch[["id"]].copy()
        out["file"] = mini_batch["Path"].map(os.path.basename)
        out["rows"] = len(mini_batch)
        out["files"] = mini_batch["Path"].nunique()
        out["label"] = "x y"
        return out
"""
PARTS = """
    import os

    def run(mini_batch):
        if hasattr(mini_batch, "columns"):     # a DataFrame
            return [f"table {sorted(set(mini_batch['country']))} {len(mini_batch)}"]
        return [f"files {sorted(os.path.basename(os.path.dirname(p)) for p in mini_batch)}"]
"""


def _sales(workspace, tmp_path):
    from amlocal.core import Datastore
    lake = tmp_path / "lake"
    rows = {"US/1.csv": range(0, 120), "US/2.csv": range(120, 125), "FR/1.csv": range(125, 130)}
    for rel, ids in rows.items():
        path = lake / "sales" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("id,amount\n" + "".join(f"{i},{i * 1.5}\n" for i in ids))
    return Datastore.register(workspace, "lake", url=str(lake))


@pytest.mark.usefixtures("docker_engine")
def test_tabular_dataset_job_in_byte_sized_mini_batches(workspace, tmp_path):
    from amlocal.core import Dataset
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunStep
    store = _sales(workspace, tmp_path)
    table = Dataset.Tabular.from_delimited_files((store, "sales/**/*.csv"), include_path=True)
    src = _src(tmp_path, score=TABLE)
    step = ParallelRunStep(
        name="score-table", inputs=[table.as_named_input("sales")],
        output=OutputFileDatasetConfig("scored"),
        parallel_run_config=_config(src, mini_batch_size="1KB", process_count_per_node=2,
                                    append_row_file_name="scores.txt"))
    first = ParallelRunStep(       # take(): the dataset is read whole, then sliced by size
        name="first-rows", inputs=[table.skip(3).take(50).as_named_input("first")],
        output=OutputFileDatasetConfig("first_scored"),
        parallel_run_config=_config(src, mini_batch_size="1KB", process_count_per_node=1))
    run = Pipeline(workspace, [step, first]).submit("prs-table")
    assert run.wait_for_completion(show_output=False) == "Finished"
    s, f = sorted(run.get_steps(), key=lambda x: x.name != "score-table")
    got = [line.split(" ") for line in _output_lines(f, "first_scored", tmp_path)]
    # path order: FR/1.csv (125-129) first, so skip(3) leaves 128, 129, then US/1.csv's rows
    assert sorted(int(r[0]) for r in got) == [*range(48), 128, 129]
    total = sum(f.stat().st_size for f in (tmp_path / "lake" / "sales").rglob("*.csv"))
    parts = -(-total // 1024)                           # by the size of all its files
    sizes = [50 * (k + 1) // parts - 50 * k // parts for k in range(parts)]
    assert parts >= 2 and sorted(int(r[2]) for r in got) == sorted(
        size for size in sizes for _ in range(size))
    rows = [line.split(" ") for line in _output_lines(s, "scored", tmp_path, "scores.txt")]
    assert sorted(int(r[0]) for r in rows) == list(range(130))    # every row, no header
    assert {r[4] for r in rows} == {'"x'} and {r[5] for r in rows} == {'y"'}  # quoted field
    assert {r[3] for r in rows} == {"1"}                            # never two files at once
    size = (tmp_path / "lake" / "sales" / "US" / "1.csv").stat().st_size
    parts = -(-size // 1024)                                        # ceil: about 1 KB each
    assert parts >= 2
    slices = sorted(120 * (k + 1) // parts - 120 * k // parts for k in range(parts))
    big = [int(r[2]) for r in rows if int(r[0]) < 120]             # the big file's rows
    assert sorted(big) == sorted(n for n in slices for _ in range(n))
    assert {int(r[2]) for r in rows if int(r[0]) >= 120} == {5}     # small files: one each
    assert f"{parts + 2} mini-batches from 1 input(s)" in s.get_job_log()


@pytest.mark.usefixtures("docker_engine")
def test_partition_keys_group_mini_batches_on_two_local_nodes(workspace, tmp_path):
    from amlocal.core import Dataset
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunStep
    store = _sales(workspace, tmp_path)
    fmt = "sales/{country}/{part}.csv"
    table = Dataset.Tabular.from_delimited_files((store, "sales/**/*.csv"), partition_format=fmt)
    files = Dataset.File.from_files((store, "sales/**/*.csv"), partition_format=fmt)
    src = _src(tmp_path, score=PARTS)
    steps = []
    for kind, dataset in (("table", table), ("files", files)):
        cfg = _config(src, partition_keys=["country"], node_count=2, process_count_per_node=1)
        steps.append(ParallelRunStep(name=f"by-country-{kind}", parallel_run_config=cfg,
                                     inputs=[dataset.as_named_input(f"sales_{kind}")],
                                     output=OutputFileDatasetConfig(f"grouped_{kind}")))
    run = Pipeline(workspace, steps).submit("prs-partitions")
    assert run.wait_for_completion(show_output=False) == "Finished"
    by_name = {s.name: s for s in run.get_steps()}
    table_lines = _output_lines(by_name["by-country-table"], "grouped_table", tmp_path)
    assert sorted(table_lines) == ["table ['FR'] 5", "table ['US'] 125"]
    file_lines = _output_lines(by_name["by-country-files"], "grouped_files", tmp_path)
    assert sorted(file_lines) == ["files ['FR']", "files ['US', 'US']"]
    log = by_name["by-country-files"].get_job_log()
    assert log.count("node_count=2 on a local compute target") == 1
    assert "logs/user/stdout/node1/process000.stdout.txt" in \
        by_name["by-country-files"].get_file_names()


PRODUCE = """
    import argparse
    import os

    p = argparse.ArgumentParser()
    p.add_argument("--raw")
    p.add_argument("--docs")
    a = p.parse_args()
    os.makedirs(a.raw, exist_ok=True)
    os.makedirs(a.docs, exist_ok=True)
    for i in range(3):
        with open(os.path.join(a.raw, f"part{i}.csv"), "w") as f:
            f.write("x,y\\n" + "".join(f"{i * 10 + k},{k}\\n" for k in range(4)))
    for i in range(5):
        with open(os.path.join(a.docs, f"d{i}.txt"), "w") as f:
            f.write(str(i))
"""
CONSUME = """
    def run(mini_batch):
        if hasattr(mini_batch, "columns"):
            return [f"rows {sorted(mini_batch['x'].tolist())}"]
        return [f"files {len(mini_batch)}"]
"""


@pytest.mark.usefixtures("docker_engine")
def test_outputs_of_an_earlier_step_as_inputs_and_a_parameter(workspace, tmp_path):
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineParameter
    from amlocal.pipeline.steps import ParallelRunStep, PythonScriptStep
    src = _src(tmp_path, produce=PRODUCE, score=CONSUME)
    raw = OutputFileDatasetConfig("raw")
    docs = PipelineData("docs")
    produce = PythonScriptStep("produce.py", name="produce", source_directory=src,
                               arguments=["--raw", raw, "--docs", docs], outputs=[docs])
    size = PipelineParameter("files_per_batch", default_value=2)
    tables = ParallelRunStep(name="tables", inputs=[raw.read_delimited_files()],
                             output=OutputFileDatasetConfig("table_out"),
                             parallel_run_config=_config(src, process_count_per_node=1))
    files = ParallelRunStep(name="files", inputs=[docs.as_dataset()],
                            output=OutputFileDatasetConfig("file_out"),
                            parallel_run_config=_config(src, mini_batch_size=size,
                                                        process_count_per_node=1))
    run = Pipeline(workspace, [produce, tables, files]).submit(
        "prs-chain", pipeline_parameters={"files_per_batch": 4})
    assert run.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s for s in run.get_steps()}
    assert sorted(_output_lines(steps["tables"], "table_out", tmp_path)) == [
        "rows [0, 1, 2, 3]", "rows [10, 11, 12, 13]", "rows [20, 21, 22, 23]"]
    assert sorted(_output_lines(steps["files"], "file_out", tmp_path)) == ["files 1", "files 4"]
