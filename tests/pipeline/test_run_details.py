"""RunDetails (azureml.widgets) on real runs: steps in Docker containers, the real store, a real
Jupyter kernel for the notebook views, rich in a terminal.

Most tests share one finished 2-step pipeline run (built once for the module); the tests that
watch a run still going submit their own pipeline with a slow step.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

STATUS = re.compile(r'class="status"[^>]*>(\w+)<')
ENDED = {"Finished", "Failed", "Canceled"}


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


def _two_steps(ws, src, slow_seconds: float = 0.0):
    """prepare -> train over a PipelineData edge; both log metrics and print lines."""
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep

    _write(src, "prepare.py", f"""
        import os, sys, time
        from azureml.core import Run
        run = Run.get_context()
        print("preparing rows", flush=True)
        time.sleep({slow_seconds})
        os.makedirs(sys.argv[2], exist_ok=True)
        open(os.path.join(sys.argv[2], "rows.txt"), "w").write("1 2 3")
        run.log("rows", 3)
        print("PREPARED 3 rows")
    """)
    _write(src, "train.py", """
        import os, sys
        from azureml.core import Run
        run = Run.get_context()
        values = [int(v) for v in open(os.path.join(sys.argv[2], "rows.txt")).read().split()]
        for step, acc in enumerate((0.5, 0.75, 0.9)):
            run.log("accuracy", acc)
        print("TRAINED on", sum(values))
    """)
    data = PipelineData("rows", datastore=ws.get_default_datastore())
    prepare = PythonScriptStep("prepare.py", name="prepare", source_directory=str(src),
                               arguments=["--out", data], outputs=[data], allow_reuse=False)
    train = PythonScriptStep("train.py", name="train", source_directory=str(src),
                             arguments=["--in", data], inputs=[data], allow_reuse=False)
    return Pipeline(ws, [prepare, train])


@pytest.fixture(scope="module")
def finished(tmp_path_factory, docker_engine):
    """A finished pipeline run in its own amlocal home (workspace, run)."""
    from amlocal.core import Workspace
    patch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("run-details")
    patch.setenv("AMLOCAL_HOME", str(root / "home"))
    patch.delenv("AMLOCAL_STORE_URL", raising=False)
    for var in ("AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AZUREML_RUN_TOKEN", "AMLWIDGET_RENDER",
                "AMLWIDGET_SYNC", "AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME"):
        patch.delenv(var, raising=False)
    ws = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "widgets")
    run = _two_steps(ws, root / "src").submit("widgets")
    assert run.wait_for_completion(show_output=False) == "Finished"
    yield ws, run
    patch.undo()


def test_widget_data_of_a_finished_pipeline_run(finished):
    from amlocal.widgets import RunDetails
    _, run = finished
    data = RunDetails(run).get_widget_data()
    assert set(data) == {"status", "workbench_run_details_uri", "run_id", "run_properties",
                         "child_runs", "children_metrics", "run_metrics", "run_logs", "graph",
                         "widget_settings"}
    json.dumps(data)  # what a notebook front end receives
    assert data["status"] == "Finished" and data["run_id"] == run.id
    assert data["workbench_run_details_uri"] == f"amlocal run show {run.id}"
    props = data["run_properties"]
    assert props["status"] == "Finished" and props["end_time_utc"] and props["run_duration"]
    assert "logs/amlocal/pipeline.log" in props["log_files"]

    steps = {c["name"]: c for c in data["child_runs"]}
    assert list(steps) == ["prepare", "train"]
    assert [c["status"] for c in data["child_runs"]] == ["Finished", "Finished"]
    assert steps["prepare"]["metrics"] == {"rows": 3}
    assert steps["train"]["metrics"] == {"accuracy": [0.5, 0.75, 0.9]}
    assert "PREPARED 3 rows" in steps["prepare"]["log_tail"]
    assert "TRAINED on 6" in steps["train"]["log_tail"]
    step_ids = {s.name: s.id for s in run.get_steps()}
    assert {c["name"]: c["run_id"] for c in data["child_runs"]} == step_ids

    series = data["children_metrics"]["series"]
    assert series["accuracy"][0]["data"] == [0.5, 0.75, 0.9] and series["rows"][0]["data"] == [3]
    assert "[train] TRAINED on 6" in data["run_logs"]
    assert data["run_logs"].endswith("Run is finished.")

    graph = data["graph"]
    assert {n["name"]: n["status"] for n in graph["module_nodes"].values()} == {
        "prepare": "Finished", "train": "Finished"}
    edges = [(e["source_node_name"], e["source_name"], e["dst_node_name"]) for e in graph["edges"]]
    assert edges == [("prepare", "rows", "train")]
    assert graph["child_runs"] == data["child_runs"]


def test_widget_data_of_a_step_run_and_a_script_run(finished, tmp_path):
    from amlocal.core import Experiment, ScriptRunConfig
    from amlocal.widgets import RunDetails
    ws, run = finished
    train = run.find_step_run("train")[0]
    data = RunDetails(train).get_widget_data({"debug": False})
    assert data["status"] == "Finished" and data["child_runs"] == [] and data["graph"] == {}
    assert data["run_properties"]["script_name"] == "train.py"
    assert data["run_metrics"] == [{"name": "accuracy", "run_id": train.id, "categories": [0, 1, 2],
                                    "series": [{"data": [0.5, 0.75, 0.9]}]}]
    assert "TRAINED on 6" in data["run_logs"]
    assert data["widget_settings"] == {"debug": False}

    _write(tmp_path, "score.py", """
        from azureml.core import Run
        Run.get_context().log("score", 0.25)
        print("SCORED")
    """)
    script_run = Experiment(ws, "widgets-script").submit(
        ScriptRunConfig(source_directory=str(tmp_path), script="score.py"))
    script_run.wait_for_completion()
    data = RunDetails(script_run).get_widget_data()
    assert data["status"] == "Completed" and data["run_properties"]["script_name"] == "score.py"
    assert data["run_metrics"][0]["name"] == "score" and "SCORED" in data["run_logs"]


def test_widget_data_of_a_start_logging_run_with_children(finished):
    from amlocal.core import Experiment
    from amlocal.widgets import RunDetails
    ws, _ = finished
    parent = Experiment(ws, "widgets-interactive").start_logging()
    parent.log("alpha", 0.1)
    child = parent.child_run(name="trial-1")
    child.log("loss", 2.0)
    child.complete()
    data = RunDetails(parent).get_widget_data()
    assert data["status"] == "Running"
    assert data["run_logs"] == "The run has not written a log yet; watching for it..."
    assert [(c["name"], c["status"], c["metrics"]) for c in data["child_runs"]] == [
        ("trial-1", "Completed", {"loss": 2.0})]
    assert data["run_metrics"][0]["name"] == "alpha"
    parent.complete()
    assert RunDetails(parent).get_widget_data()["status"] == "Completed"


def test_show_in_a_terminal_prints_the_final_table(finished, capsys):
    from amlocal.widgets import RunDetails
    _, run = finished
    RunDetails(run).show()
    out = capsys.readouterr().out
    assert out.count("Last log lines") == 1  # not a terminal: only the final table
    for text in ("prepare", "train", "Finished", "rows: 3", "accuracy: 0.9 (3 values)",
                 "PREPARED 3 rows", "TRAINED on 6", f"amlocal run show {run.id}"):
        assert text in out, text


def test_show_in_a_terminal_follows_a_running_pipeline_until_it_ends(workspace, tmp_path, capsys,
                                                                    monkeypatch):
    from amlocal.core.run import TERMINAL
    from amlocal.widgets import RunDetails
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: a live terminal, redrawn on every refresh
    monkeypatch.setenv("FORCE_COLOR", "1")     # (the older rich spelling of the same)
    monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "0.2")
    run = _two_steps(workspace, tmp_path / "src", slow_seconds=4).submit("widgets-live")
    assert run.get_status() not in TERMINAL
    RunDetails(run).show()
    assert run.get_status() == "Finished"  # show() returned only once the run had ended
    out = capsys.readouterr().out
    frames = out.count("Last log lines")
    assert frames >= 5, out
    first_finished = out.index("Finished")
    assert "Running" in out[:first_finished] or "NotStarted" in out[:first_finished]
    assert "preparing rows" in out and "TRAINED on 6" in out[out.rindex("Last log lines"):]


def test_show_ends_when_the_runner_of_the_run_died(finished, capsys, monkeypatch):
    from amlocal.core import Experiment
    from amlocal.widgets import RunDetails
    ws, _ = finished
    monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "0.1")
    run = Experiment(ws, "widgets-lost").start_logging()
    gone = subprocess.Popen(["true"])
    gone.wait()
    run.add_properties({"amlocal.runner_pid": str(gone.pid)})  # a runner that died mid-run
    RunDetails(run).show()
    assert run.get_status() == "Failed"
    out = " ".join(capsys.readouterr().out.split())
    assert "runner process of this run ended without finishing it" in out


def test_render_lib_gets_the_html_and_amlwidget_render_0_renders_nothing(finished, capsys,
                                                                          monkeypatch):
    from amlocal.widgets import RunDetails
    _, run = finished
    pages: list[str] = []
    RunDetails(run).show(render_lib=pages.append)
    assert len(pages) == 1 and STATUS.findall(pages[0])[0] == "Finished"
    assert "prepare" in pages[0] and "TRAINED on 6" in pages[0] and "accuracy: 0.9" in pages[0]
    capsys.readouterr()

    monkeypatch.setenv("AMLWIDGET_RENDER", "0")
    pages.clear()
    details = RunDetails(run)
    details.show(render_lib=pages.append)
    details.show()
    assert pages == [] and capsys.readouterr().out == ""


def test_a_bad_refresh_override_is_refused_before_anything_shows(finished, capsys, monkeypatch):
    from amlocal.errors import UserErrorException
    from amlocal.widgets import RunDetails
    _, run = finished
    monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "soon")
    with pytest.raises(UserErrorException, match="AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME='soon'"):
        RunDetails(run).show()
    assert capsys.readouterr().out == ""


def test_an_offline_run_is_refused_with_what_to_do(home):
    from amlocal.core import Run
    from amlocal.widgets import RunDetails
    offline = Run.get_context()
    with pytest.raises(AttributeError, match=r"offline run.*Experiment.submit"):
        RunDetails(offline)


def test_parallel_run_step_details_follows_the_step_run(finished, capsys):
    from amlocal.errors import UserErrorException
    from amlocal.widgets import ParallelRunStepDetails
    ws, run = finished
    train = run.find_step_run("train")[0]
    by_run = ParallelRunStepDetails(run_instance=run, step_name="train")
    by_ids = ParallelRunStepDetails(workspace=ws, run_id=run.id, step_name="train")
    by_step = ParallelRunStepDetails(workspace=ws, step_run_id=train.id)
    assert by_run.step_run.id == by_ids.step_run.id == by_step.step_run.id == train.id
    by_run.show()
    out = capsys.readouterr().out
    assert "train" in out and "Finished" in out and "TRAINED on 6" in out
    assert by_run.get_widget_data()["progress"] is None  # not a ParallelRunStep: no progress lines
    unknown = "no step named 'score'; its steps: prepare, train"
    with pytest.raises(UserErrorException, match=unknown):
        ParallelRunStepDetails(run_instance=run, step_name="score")
    with pytest.raises(UserErrorException, match="needs one of"):
        ParallelRunStepDetails(workspace=ws, step_name="train")


# -- Jupyter: a real IPython kernel -------------------------------------------------------------
BLOCK_IPYWIDGETS = """
import importlib.abc, sys
class _NoWidgets(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'ipywidgets':
            raise ImportError('ipywidgets is not installed here')
sys.meta_path.insert(0, _NoWidgets())
"""


def _in_kernel(code: str, seen_end, timeout: float = 180.0) -> list[dict]:
    """Run ``code`` in a fresh IPython kernel (this interpreter, this environment) and return
    its iopub messages until ``seen_end(messages)``; the cell's idle status is among them."""
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name="python3", env=dict(os.environ))
    messages: list[dict] = []
    try:
        kc.execute(code)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not seen_end(messages):
            try:
                messages.append(kc.get_iopub_msg(timeout=5))
            except Exception:  # noqa: BLE001 - queue.Empty: keep waiting until the deadline
                continue
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert not errors, errors
        assert seen_end(messages), [(m["msg_type"], str(m["content"])[:300]) for m in messages]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return messages


def _show_code(ws, run_id: str, block_ipywidgets: bool) -> str:
    return (BLOCK_IPYWIDGETS if block_ipywidgets else "") + textwrap.dedent(f"""
        import threading
        from amlocal.core import Run, Workspace
        from amlocal.widgets import RunDetails
        ws = Workspace({ws.subscription_id!r}, {ws.resource_group!r}, {ws.name!r})
        RunDetails(Run.get(ws, {run_id!r})).show()
        print("CELL DONE", [t.name[:15] for t in threading.enumerate()
                            if t.name.startswith("WidgetRefresher")])
    """)


def _cell_done_index(messages) -> int:
    return next(i for i, m in enumerate(messages)
                if m["msg_type"] == "stream" and "CELL DONE" in m["content"]["text"])


def test_show_in_jupyter_without_ipywidgets_updates_an_html_display(workspace, tmp_path,
                                                                     monkeypatch):
    from amlocal.core.run import TERMINAL
    monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "0.3")
    run = _two_steps(workspace, tmp_path / "src", slow_seconds=6).submit("widgets-jupyter")

    def html_of(m):
        return (m["content"].get("data") or {}).get("text/html", "")

    def finished(messages):
        return any(m["msg_type"] == "update_display_data" and (
            set(STATUS.findall(html_of(m))) & ENDED or "Refreshing stopped" in html_of(m))
            for m in messages)

    messages = _in_kernel(_show_code(workspace, run.id, block_ipywidgets=True), finished)
    first = next(m for m in messages if m["msg_type"] == "display_data")
    assert "text/html" in first["content"]["data"]
    display_id = first["content"]["transient"]["display_id"]
    assert STATUS.findall(html_of(first))[0] not in TERMINAL  # shown while the run was going
    done = _cell_done_index(messages)
    assert "WidgetRefresher" in messages[done]["content"]["text"]  # the cell did not block
    updates = [m for m in messages[done:] if m["msg_type"] == "update_display_data"]
    assert {m["content"]["transient"]["display_id"] for m in updates} == {display_id}
    last = html_of(updates[-1])
    assert STATUS.findall(last)[0] == "Finished", last
    for text in ("prepare", "train", "rows: 3", "accuracy: 0.9 (3 values)", "TRAINED on 6"):
        assert text in last, text
    assert run.get_status() == "Finished"


def test_show_in_jupyter_with_ipywidgets_updates_an_html_widget(workspace, tmp_path, monkeypatch):
    from amlocal.core.run import TERMINAL
    monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "0.3")
    run = _two_steps(workspace, tmp_path / "src", slow_seconds=6).submit("widgets-ipywidgets")

    def value_of(m):
        data = m["content"].get("data") or {}
        return (data.get("state") or {}).get("value", "")

    def finished(messages):
        return any(m["msg_type"] == "comm_msg" and (
            set(STATUS.findall(value_of(m))) & ENDED or "Refreshing stopped" in value_of(m))
            for m in messages)

    messages = _in_kernel(_show_code(workspace, run.id, block_ipywidgets=False), finished)
    opened = [m for m in messages if m["msg_type"] == "comm_open" and
              m["content"]["data"]["state"].get("_model_name") == "HTMLModel"]
    assert len(opened) == 1
    assert STATUS.findall(value_of(opened[0]))[0] not in TERMINAL
    shown = next(m for m in messages if m["msg_type"] == "display_data")
    assert shown["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == \
        opened[0]["content"]["comm_id"]
    done = _cell_done_index(messages)
    updates = [m for m in messages[done:] if m["msg_type"] == "comm_msg" and value_of(m)]
    widget_id = opened[0]["content"]["comm_id"]
    assert updates and all(m["content"]["comm_id"] == widget_id for m in updates)
    last = value_of(updates[-1])
    assert STATUS.findall(last)[0] == "Finished", last
    for text in ("prepare", "train", "rows: 3", "TRAINED on 6"):
        assert text in last, text


def test_parallel_run_step_details_shows_a_parallel_run_steps_progress(workspace, tmp_path, capsys,
                                                                      monkeypatch):
    from amlocal.core import Dataset, Datastore, Environment
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunConfig, ParallelRunStep
    from amlocal.widgets import ParallelRunStepDetails
    monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "0.3")
    monkeypatch.setenv("COLUMNS", "240")
    for i in range(4):
        _write(tmp_path / "lake" / "docs", f"f{i}.txt", f"content {i}\n")
    store = Datastore.register(workspace, "lake", url=str(tmp_path / "lake"))
    _write(tmp_path / "src", "score.py", """
        import os, time
        def init():
            pass
        def run(mini_batch):
            time.sleep(0.5)
            return [os.path.basename(p) for p in mini_batch]
    """)
    config = ParallelRunConfig(environment=Environment("prs-env"), entry_script="score.py",
                               error_threshold=-1, output_action="append_row",
                               compute_target="local", node_count=1, mini_batch_size="1",
                               source_directory=str(tmp_path / "src"))
    step = ParallelRunStep(name="score-files", parallel_run_config=config,
                           inputs=[Dataset.File.from_files((store, "docs")).as_named_input("docs")],
                           output=OutputFileDatasetConfig("scores"))
    run = Pipeline(workspace, [step]).submit("prs-widget")
    details = ParallelRunStepDetails(run_instance=run, step_name="score-files")
    details.show()
    step_run = run.find_step_run("score-files")[0]
    assert details.step_run.id == step_run.id and step_run.get_status() == "Finished"
    out = capsys.readouterr().out
    assert "score-files" in out and "Finished" in out
    assert "Progress: 4/4 mini-batches done, 0 failed" in out, out
    data = details.get_widget_data()
    assert data["status"] == "Finished" and data["run_properties"]["name"] == "score-files"
    assert {k: v for k, v in data["progress"].items() if k != "text"} == {
        "completed_tasks": 4, "total_tasks": 4, "failed_tasks": 0}
