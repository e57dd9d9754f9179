"""What a step script sees and does: the run context API, datasets, targets, parallel branches."""
from __future__ import annotations

import textwrap
import time

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def _src(tmp_path, **scripts):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


def test_run_context_api_inside_a_container(workspace, tmp_path):
    from amlocal.core import Dataset, Datastore
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    lake = tmp_path / "lake"
    (lake / "imgs").mkdir(parents=True)
    (lake / "imgs" / "a.txt").write_text("alpha")
    (lake / "imgs" / "b.txt").write_text("beta")
    store = Datastore.register(workspace, "lake", url=str(lake))
    files = Dataset.File.from_files((store, "imgs"))
    src = _src(tmp_path, ctx="""
        import os, struct, zlib
        from azureml.core import Run
        run = Run.get_context()
        ds = run.input_datasets
        print("INPUTS", sorted(ds))
        print("DOWNLOADED", sorted(os.listdir(ds["pictures"])))
        print("DIRECT", type(ds["direct_ref"]).__name__, ds["direct_ref"].id[:12])
        print("EXPERIMENT", run.experiment.name, run.experiment.workspace.name)
        print("SAME RUN", Run.get_context() is run)
        run.tag("stage", "done")
        run.set_tags({"k": "v"})
        run.log_list("l", [1, 2])
        run.log_row("r", a=1)
        run.log_table("t", {"c": [1, 2]})
        png = b"\\x89PNG\\r\\n\\x1a\\n" + b"".join(
            struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
            for t, d in [(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)),
                         (b"IDAT", zlib.compress(b"\\x00\\x00")), (b"IEND", b"")])
        open("dot.png", "wb").write(png)
        run.log_image("dot", path="dot.png")
        open("notes.txt", "w").write("kept")
        run.upload_file("extra/notes.txt", "notes.txt")
        os.makedirs("folder", exist_ok=True)
        open("folder/x.txt", "w").write("x")
        run.upload_folder("up", "folder")
        print("METRICS", sorted(run.get_metrics()))
    """)
    step = PythonScriptStep("ctx.py", name="ctx", source_directory=src,
                            arguments=[files.as_named_input("pictures").as_download(),
                                       files.as_named_input("direct_ref")])
    run = Pipeline(workspace, [step]).submit("context")
    assert run.wait_for_completion(show_output=False) == "Finished"
    s = next(run.get_steps())
    log = s.get_job_log()
    assert "INPUTS ['direct_ref', 'pictures']" in log
    assert "DOWNLOADED ['a.txt', 'b.txt']" in log
    assert f"DIRECT FileDataset {files.id[:12]}" in log
    assert "EXPERIMENT context testws" in log
    assert "SAME RUN True" in log
    assert "METRICS ['dot', 'l', 'r', 't']" in log
    assert s.get_tags() == {"stage": "done", "k": "v"}
    metrics = s.get_metrics()
    assert metrics["l"] == [1, 2] and metrics["r"] == {"a": 1} and metrics["t"] == {"c": [1, 2]}
    assert metrics["dot"].startswith("aml://") and metrics["dot"].endswith("dot.png")
    names = s.get_file_names()
    assert {"dot.png", "extra/notes.txt", "up/x.txt"} <= set(names)
    assert s.get_details()["inputDatasets"][0]["name"] == "pictures"


def test_metrics_show_up_while_the_step_runs(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = _src(tmp_path, slow="""
        import time
        from azureml.core import Run
        run = Run.get_context()
        for i in range(3):
            run.log("progress", i)
        time.sleep(60)
    """)
    run = Pipeline(workspace, [PythonScriptStep("slow.py", name="slow", source_directory=src)]).submit("live")
    step = next(run.get_steps())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and step.get_metrics().get("progress") != [0, 1, 2]:
        time.sleep(0.3)
    assert step.get_status() == "Running"
    assert step.get_metrics()["progress"] == [0, 1, 2]
    run.cancel()
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Canceled"


def test_independent_steps_run_side_by_side_and_continue_on_failure(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = _src(tmp_path,
               slow="import time\nt0 = time.time()\ntime.sleep(3)\nprint('SPAN', t0, time.time())\n",
               bad="import time\ntime.sleep(1)\nraise SystemExit(3)\n",
               after="print('never')\n")
    one = PythonScriptStep("slow.py", name="one", source_directory=src)
    two = PythonScriptStep("slow.py", name="two", source_directory=src)
    bad = PythonScriptStep("bad.py", name="bad", source_directory=src)
    after = PythonScriptStep("after.py", name="after", source_directory=src)
    after.run_after(bad)
    run = Pipeline(workspace, [one, two, bad, after]).submit("branches", continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert {n: s.get_status() for n, s in steps.items()} == {
        "one": "Finished", "two": "Finished", "bad": "Failed", "after": "Canceled"}
    assert "exited with status 3" in steps["bad"]._info.error["message"]
    assert "upstream step(s) bad failed" in steps["after"]._info.error["message"]
    spans = [tuple(map(float, steps[n].get_job_log().split()[1:3])) for n in ("one", "two")]
    assert max(s[0] for s in spans) < min(s[1] for s in spans), f"the steps did not overlap: {spans}"


def test_local_process_target_runs_the_same_step(workspace, tmp_path):
    import subprocess
    from amlocal.core import ComputeTarget, Model
    from amlocal.core.compute import AmlCompute
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep

    target = ComputeTarget.create(workspace, "debug", AmlCompute.provisioning_configuration(kind="local"))
    assert target.kind == "local"
    src = _src(tmp_path,
               write="""
                   import os, sys
                   from azureml.core import Run
                   out = sys.argv[1]
                   os.makedirs(out, exist_ok=True)
                   open(os.path.join(out, "v.txt"), "w").write("41")
                   Run.get_context().log("wrote", 1)
               """,
               read="""
                   import os, sys
                   from amlocal.core import Model, Run
                   v = int(open(os.path.join(sys.argv[1], "v.txt")).read()) + 1
                   os.makedirs("outputs", exist_ok=True)
                   open("outputs/answer.txt", "w").write(str(v))
                   Model.register(Run.get_context().experiment.workspace, "outputs/answer.txt", "answer")
                   print("ANSWER", v, "PID", os.getpid())
               """)
    data = PipelineData("handoff")
    w = PythonScriptStep("write.py", name="write", arguments=[data], outputs=[data],
                         compute_target=target, source_directory=src)
    r = PythonScriptStep("read.py", name="read", arguments=[data], inputs=[data],
                         compute_target="debug", source_directory=src)
    run = Pipeline(workspace, [w, r]).submit("localtarget")
    assert run.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s for s in run.get_steps()}
    assert "ANSWER 42" in steps["read"].get_job_log()
    assert steps["write"].get_metrics() == {"wrote": 1}
    assert Model(workspace, "answer").run_id == steps["read"].id
    assert "outputs/answer.txt" in steps["read"].get_file_names()
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=amlocal.run_id={steps['read'].id}"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_script_run_config_submits_a_single_run(workspace, tmp_path):
    from amlocal.core import Experiment, ScriptRunConfig
    src = _src(tmp_path, single="""
        import sys
        from azureml.core import Run
        run = Run.get_context()
        run.log("arg", int(sys.argv[1]))
        print("PARENT", run.parent)
    """)
    exp = Experiment(workspace, "scripts")
    run = exp.submit(ScriptRunConfig(source_directory=src, script="single.py", arguments=[7]))
    assert run.id.startswith("scripts_")
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert run.get_metrics() == {"arg": 7}
    assert run.parent is None
    assert [r.id for r in exp.get_runs()] == [run.id]


def test_outputs_read_as_tables_and_pipeline_data_as_datasets(workspace, tmp_path):
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep

    # the examples' environment: its image is shared with them
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["pandas", "scikit-learn", "azureml-defaults"]))
    src = _src(tmp_path,
               write="""
                   import os, sys
                   table, notes = sys.argv[1], sys.argv[2]
                   os.makedirs(os.path.join(table, "part"), exist_ok=True)
                   open(os.path.join(table, "part", "a.csv"), "w").write("x,y\\n1,2\\n3,4\\n")
                   open(os.path.join(table, "b.csv"), "w").write("x,y\\n5,6\\n")
                   os.makedirs(notes, exist_ok=True)
                   open(os.path.join(notes, "n.txt"), "w").write("hello")
               """,
               read="""
                   import os, sys
                   from azureml.core import Run
                   frame = Run.get_context().input_datasets["rows"].to_pandas_dataframe()
                   print("SUM", int(frame["x"].sum()), int(frame["y"].sum()), len(frame))
                   print("NOTES", open(os.path.join(sys.argv[1], "n.txt")).read())
               """)
    table = OutputFileDatasetConfig("table")
    notes = PipelineData("notes")
    write = PythonScriptStep("write.py", name="write", arguments=[table, notes], outputs=[notes],
                             runconfig=rc, source_directory=src)
    read = PythonScriptStep("read.py", name="read", runconfig=rc, source_directory=src,
                            arguments=[notes.as_dataset().as_named_input("notes_in").as_download()],
                            inputs=[table.read_delimited_files().as_input("rows")])
    run = Pipeline(workspace, [read, write]).submit("tables")
    assert run.wait_for_completion(show_output=False) == "Finished"
    log = {s.name: s for s in run.get_steps()}["read"].get_job_log()
    assert "SUM 9 12 3" in log and "NOTES hello" in log
