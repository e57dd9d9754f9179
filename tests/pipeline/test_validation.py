"""Errors a user meets before any container starts: each names the thing and the fix."""
import pytest

from amlocal.errors import ComputeTargetException, UserErrorException, ValidationError


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.py").write_text("print('a')\n")
    (folder / "b.py").write_text("print('b')\n")
    return folder


def test_valid_pipeline_has_no_errors(workspace, src):
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    data = PipelineData("prepared")
    a = PythonScriptStep("a.py", arguments=["--out", data], outputs=[data], source_directory=str(src))
    b = PythonScriptStep("b.py", arguments=["--in", data], inputs=[data], source_directory=str(src))
    assert Pipeline(workspace, [b, a]).validate() == []


def test_validate_lists_every_problem(workspace, src, tmp_path):
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    orphan = PipelineData("never_written")
    steps = [
        PythonScriptStep("missing.py", name="no-script", source_directory=str(src)),
        PythonScriptStep("a.py", name="no-dir", source_directory=str(tmp_path / "nope")),
        PythonScriptStep("b.py", name="orphan-input", inputs=[orphan], arguments=[orphan],
                         source_directory=str(src)),
        PythonScriptStep("a.py", name="bad-target", compute_target="gpu-cluster",
                         source_directory=str(src)),
    ]
    errors = Pipeline(workspace, steps).validate()
    text = "\n".join(errors)
    assert "script 'missing.py' was not found" in text
    assert "does not exist" in text and "nope" in text
    assert "input 'never_written' is not produced by any step" in text
    assert "compute target 'gpu-cluster' does not exist" in text
    assert len(errors) == 4
    with pytest.raises(ValidationError) as info:
        Pipeline(workspace, steps).submit("exp")
    assert len(info.value.errors) == 4
    assert workspace._store.list_runs(workspace._id) == []


def test_cycle_is_reported(workspace, src):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    a = PythonScriptStep("a.py", source_directory=str(src))
    b = PythonScriptStep("b.py", source_directory=str(src))
    a.run_after(b)
    b.run_after(a)
    assert any("cycle" in e for e in Pipeline(workspace, [a, b]).validate())


def test_pipeline_data_in_arguments_must_be_declared(workspace, src):
    from amlocal.pipeline.core import PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    with pytest.raises(ValueError, match="neither inputs= nor outputs="):
        PythonScriptStep("a.py", arguments=[PipelineData("x")], source_directory=str(src))


def test_names_are_checked(workspace):
    from amlocal.core import Experiment
    from amlocal.pipeline.core import PipelineData, PipelineParameter
    with pytest.raises(ValueError, match="letters, digits and '_'"):
        PipelineData("bad-name")
    with pytest.raises(ValueError, match="mount' or 'upload"):
        PipelineData("ok", output_mode="copy")
    with pytest.raises(ValueError, match="default value"):
        PipelineParameter("p", [1])
    with pytest.raises(UserErrorException, match="experiment name"):
        Experiment(workspace, "no spaces please")


def test_unknown_or_bad_parameters_are_refused_before_anything_runs(workspace, src):
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    lr = PipelineParameter("learning-rate", 0.1)
    step = PythonScriptStep("a.py", arguments=["--lr", lr], source_directory=str(src))
    published = Pipeline(workspace, [step]).publish("p")
    with pytest.raises(UserErrorException, match="Pipeline parameter with name epochs does not exist"):
        published.submit(workspace, "exp", pipeline_parameters={"epochs": 3})
    with pytest.raises(UserErrorException, match="takes a float"):
        published.submit(workspace, "exp", pipeline_parameters={"learning-rate": "fast"})
    assert workspace._store.list_runs(workspace._id) == []


def test_unknown_compute_target_by_name_raises_azure_style(workspace):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import AmlCompute
    with pytest.raises(ComputeTargetException, match="ComputeTargetNotFound"):
        ComputeTarget(workspace, "nothing")
    target = AmlCompute(workspace, "d1compute")
    assert target.kind == "docker"
    assert ComputeTarget(workspace, "d1compute").name == "d1compute"
    assert set(workspace.compute_targets) == {"d1compute"}


def test_publish_is_immutable_and_disable_refuses(workspace, src):
    from amlocal.pipeline.core import Pipeline, PublishedPipeline
    from amlocal.pipeline.steps import PythonScriptStep
    step = PythonScriptStep("a.py", source_directory=str(src))
    first = Pipeline(workspace, [step]).publish("Thing", description="d", version="1")
    snap = first._info.definition["steps"][0]["snapshot"]
    (src / "a.py").write_text("print('edited')\n")
    second = Pipeline(workspace, [step]).publish("Thing")
    assert first.id != second.id
    assert second._info.definition["steps"][0]["snapshot"] != snap
    stored = PublishedPipeline.get(workspace, first.id)
    assert stored._info.definition["steps"][0]["snapshot"] == snap
    from amlocal import _settings
    assert (_settings.current().snapshots / snap / "a.py").read_text() == "print('a')\n"
    stored.disable()
    assert [p.id for p in PublishedPipeline.list(workspace)] == [second.id]
    with pytest.raises(UserErrorException, match="is Disabled and cannot be submitted"):
        stored.submit(workspace, "exp")
    stored.enable()
    assert {p.id for p in PublishedPipeline.list(workspace)} == {first.id, second.id}
    assert stored.default_experiment_name() == "Thing"


def test_snapshot_honours_amlignore(workspace, src):
    from amlocal._engine.snapshot import list_files
    (src / "data.csv").write_text("x\n")
    (src / "sub").mkdir()
    (src / "sub" / "keep.py").write_text("")
    (src / ".amlignore").write_text("*.csv\n")
    assert list_files(src) == [".amlignore", "a.py", "b.py", "sub/keep.py"]
