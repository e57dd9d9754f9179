"""A step writes to its parent pipeline run (``run.parent.log/tag/add_properties``), and a write
that fails is never lost silently: it shows in the step's log and fails the step. Real
containers, the real run service and store."""
from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


def test_steps_log_tag_and_add_properties_to_their_pipeline_run(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    _write(src, "trainer.py", """
        import sys
        from azureml.core import Run
        name, acc = sys.argv[1], float(sys.argv[2])
        run = Run.get_context()
        run.log("acc", acc)
        run.parent.log(f"acc_{name}", acc)
        run.parent.log("accs", acc)
        run.parent.tag(f"trained_{name}")
        run.parent.add_properties({f"trainer_{name}": "done"})
        for i in range(300):  # one buffer, a few batched requests
            Run.get_context().parent.log(f"curve_{name}", i)
        print("logged to parent", run.parent.id)
    """)
    steps = [PythonScriptStep("trainer.py", name=f"train_{n}", source_directory=str(src),
                              arguments=[n, acc]) for n, acc in (("a", 0.75), ("b", 0.5))]
    run = Pipeline(workspace, steps).submit("compare-trainers")
    assert run.wait_for_completion(show_output=False) == "Finished"
    metrics = run.get_metrics()
    assert metrics["acc_a"] == 0.75 and metrics["acc_b"] == 0.5
    assert sorted(metrics["accs"]) == [0.5, 0.75]
    assert metrics["curve_a"] == metrics["curve_b"] == list(range(300))
    assert {"trained_a", "trained_b"} <= set(run.get_tags())
    assert {run.get_properties()[f"trainer_{n}"] for n in "ab"} == {"done"}
    assert {s.name: s.get_metrics() for s in run.get_steps()} == {
        "train_a": {"acc": 0.75}, "train_b": {"acc": 0.5}}


def test_a_refused_write_fails_the_step_and_says_why(workspace, tmp_path):
    """A metric to a run outside the step's tree (buffered, refused at flush) and a tag on it
    (refused at the call): both steps end Failed with the reason in their log, and nothing was
    written to the other run."""
    from amlocal.core import Experiment
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    outsider = Experiment(workspace, "outside").start_logging(snapshot_directory=None)
    src = tmp_path / "src"
    _write(src, "metric.py", """
        import sys
        from azureml.core import Run
        from amlocal.core.run import Run as R
        run = Run.get_context()
        other = R(run.experiment, sys.argv[1])
        other.log("stolen", 1)
        print("script ends normally")
    """)
    _write(src, "tag.py", """
        import sys
        from azureml.core import Run
        from amlocal.core.run import Run as R
        run = Run.get_context()
        R(run.experiment, sys.argv[1]).tag("stolen", "yes")
    """)
    steps = [PythonScriptStep(f"{n}.py", name=n, source_directory=str(src),
                              arguments=[outsider.id]) for n in ("metric", "tag")]
    run = Pipeline(workspace, steps).submit("refused", continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    step = {s.name: s for s in run.get_steps()}
    assert step["metric"].get_status() == step["tag"].get_status() == "Failed"
    log = step["metric"].get_job_log()
    assert "script ends normally" in log
    assert f"1 metric value(s) logged to run {outsider.id} could not be written" in log
    assert f"may not call log_metrics on run {outsider.id}" in log
    assert "the step fails because metrics it logged were not written" in log
    assert f"may not call set_tags on run {outsider.id}" in step["tag"].get_job_log()
    assert outsider.get_metrics() == {} and outsider.get_tags() == {}
