"""Pipelines for real: steps in Docker containers, the run service, the store, the artifacts.

The suite shares one light environment (no packages beyond the injected runtime): its image is
built once per machine and every test here reuses it.
"""
from __future__ import annotations

import subprocess
import textwrap
import time

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


def _leftover_containers(run_id=None) -> list[str]:
    label = f"amlocal.run_id={run_id}" if run_id else "amlocal.run_id"
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.fixture
def two_step(workspace, tmp_path):
    """prepare -> train, with a PipelineData edge, a parameter and a mounted file dataset."""
    from amlocal.core import Dataset, Datastore
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep

    lake = tmp_path / "lake"
    _write(lake / "raw", "numbers.csv", "n\n1\n2\n3\n4\n")
    store = Datastore.register(workspace, "lake", url=lake.as_uri())
    src = tmp_path / "src"
    _write(src, "prepare.py", """
        import argparse, os
        from azureml.core import Run
        p = argparse.ArgumentParser()
        p.add_argument("--raw"); p.add_argument("--out"); p.add_argument("--scale", type=int)
        a = p.parse_args()
        rows = [int(x) for x in open(a.raw).read().split()[1:]]
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "scaled.txt"), "w") as f:
            f.write(" ".join(str(r * a.scale) for r in rows))
        run = Run.get_context()
        run.log("rows", len(rows))
        print("PREPARED", len(rows), "rows; parent", run.parent.id)
        try:
            open(a.raw, "a").write("x")
            print("WRITABLE")
        except OSError:
            print("READ-ONLY INPUT")
    """)
    _write(src, "train.py", """
        import argparse, os, sys
        from amlocal.core import Model, Run
        p = argparse.ArgumentParser(); p.add_argument("--data"); a = p.parse_args()
        values = [int(x) for x in open(os.path.join(a.data, "scaled.txt")).read().split()]
        run = Run.get_context()
        for i in range(500):
            run.log("curve", i)
        run.log("total", sum(values))
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.txt", "w").write(str(sum(values)))
        Model.register(run.experiment.workspace, "outputs/model.txt", "summer", tags={"t": "1"})
        print("TRAINED total", sum(values), "param", os.environ["AML_PARAMETER_scale"])
    """)
    scaled = PipelineData("scaled", datastore=store)
    scale = PipelineParameter("scale", 10)
    raw = Dataset.File.from_files([(store, "raw/numbers.csv")]).as_mount()
    prepare = PythonScriptStep("prepare.py", name="prepare", source_directory=str(src),
                               arguments=["--raw", raw, "--out", scaled, "--scale", scale],
                               outputs=[scaled])
    train = PythonScriptStep("train.py", name="train", source_directory=str(src),
                             arguments=["--data", scaled], inputs=[scaled],
                             params={"scale": scale})
    return Pipeline(workspace, [train, prepare]), src


def test_pipeline_runs_in_containers_and_tracks_everything(workspace, two_step, capsys):
    from amlocal.core import Model
    from amlocal.pipeline.core import PipelineRun

    pipeline, _ = two_step
    run = pipeline.submit("e2e", pipeline_parameters={"scale": "3"})
    assert isinstance(run, PipelineRun)
    assert run.wait_for_completion(show_output=True) == "Finished"
    out = capsys.readouterr().out
    assert "[prepare] PREPARED 4 rows; parent " + run.id in out
    assert "[prepare] READ-ONLY INPUT" in out
    assert "[train] TRAINED total 30 param 3" in out

    steps = {s.name: s for s in run.get_steps()}
    assert [s.get_status() for s in steps.values()] == ["Finished", "Finished"]
    assert steps["prepare"].get_metrics() == {"rows": 4}
    metrics = steps["train"].get_metrics()
    assert metrics["curve"] == list(range(500)) and metrics["total"] == 30
    files = steps["train"].get_file_names()
    assert "outputs/model.txt" in files and "logs/user_logs/std_log.txt" in files
    assert "TRAINED" in steps["train"].get_job_log()
    digest = steps["train"].properties["amlocal.environment_digest"]
    assert len(digest) == 64
    model = Model(workspace, "summer")
    assert model.version == 1 and model.run_id == steps["train"].id
    assert _leftover_containers(run.id) == [] and _leftover_containers(steps["train"].id) == []


def test_failing_step_fails_the_pipeline_and_keeps_the_traceback(workspace, tmp_path):
    from amlocal.errors import ActivityFailedException
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    _write(src, "boom.py", "def go():\n    raise RuntimeError('the data is wrong')\ngo()\n")
    _write(src, "after.py", "print('never')\n")
    boom = PythonScriptStep("boom.py", name="boom", source_directory=str(src))
    after = PythonScriptStep("after.py", name="after", source_directory=str(src))
    after.run_after(boom)
    run = Pipeline(workspace, [boom, after]).submit("fails")
    with pytest.raises(ActivityFailedException, match="step 'boom'"):
        run.wait_for_completion(show_output=False)
    assert run.get_status() == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert steps["boom"].get_status() == "Failed"
    assert "RuntimeError: the data is wrong" in steps["boom"].get_job_log()
    assert "Traceback" in steps["boom"]._info.error["log_tail"]
    assert steps["after"].get_status() == "Canceled"
    assert _leftover_containers(steps["boom"].id) == []


def test_cancel_stops_and_removes_the_container(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    _write(src, "sleepy.py", "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n")
    run = Pipeline(workspace, [PythonScriptStep("sleepy.py", name="sleepy", source_directory=str(src))]
                   ).submit("cancels")
    step = next(run.get_steps())
    deadline = time.monotonic() + 120
    while step.get_status() != "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert step.get_status() == "Running"
    time.sleep(1)
    assert len(_leftover_containers(step.id)) == 1
    run.cancel()
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Canceled"
    assert step.get_status() == "Canceled"
    assert _leftover_containers(step.id) == []


def test_published_pipeline_runs_what_was_published(workspace, tmp_path, capsys):
    from amlocal.pipeline.core import Pipeline, PublishedPipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    _write(src, "hello.py", "print('VERSION ONE')\n")
    step = PythonScriptStep("hello.py", name="hello", source_directory=str(src))
    first = Pipeline(workspace, [step]).publish("Hello")
    _write(src, "hello.py", "print('VERSION TWO')\n")
    run = PublishedPipeline.get(workspace, first.id).submit(workspace, "Hello")
    run.wait_for_completion(show_output=True)
    assert "VERSION ONE" in capsys.readouterr().out
    second = Pipeline(workspace, [step]).publish("Hello")
    second.submit(workspace, "Hello").wait_for_completion(show_output=True)
    assert "VERSION TWO" in capsys.readouterr().out
    runs = list(workspace.experiments["Hello"].get_runs())
    assert len(runs) == 2
    assert runs[1].properties["azureml.pipelineid"] == first.id


def test_unchanged_environment_is_not_rebuilt(workspace, tmp_path):
    import docker
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    _write(src, "noop.py", "print('ok')\n")
    pipeline = Pipeline(workspace, [PythonScriptStep("noop.py", name="noop", source_directory=str(src))])
    first = pipeline.submit("rebuild")
    first.wait_for_completion(show_output=False)
    step1 = next(first.get_steps())
    image = step1.properties["amlocal.image"]
    created = docker.from_env().images.get(image).attrs["Created"]
    second = pipeline.submit("rebuild")
    second.wait_for_completion(show_output=False)
    step2 = next(second.get_steps())
    assert step2.properties["amlocal.environment_digest"] == step1.properties["amlocal.environment_digest"]
    assert docker.from_env().images.get(image).attrs["Created"] == created
    log = second._store.read_artifact(second.id, "logs/amlocal/pipeline.log").decode()
    assert "Step 1/" not in log and "building" not in log.lower()


def test_environment_that_cannot_be_built_names_the_package(workspace, tmp_path):
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    _write(src, "never.py", "print('SCRIPT RAN')\n")
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["amlocal-surely-not-a-real-package-xyz"]))
    run = Pipeline(workspace, [PythonScriptStep("never.py", name="never", runconfig=rc,
                                                source_directory=str(src))]).submit("badenv")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    step = next(run.get_steps())
    assert "amlocal-surely-not-a-real-package-xyz" in step._info.error["message"]
    assert "SCRIPT RAN" not in step.get_job_log()
