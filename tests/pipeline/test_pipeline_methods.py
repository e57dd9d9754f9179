"""The pipeline methods v1 code calls besides submit/publish: PipelineData.create_input_binding
and pipeline_output_name (PipelineRun.get_pipeline_output), InputPortBinding.as_resource and
get_bind_object_data_type, PipelineStep's step-building hooks (the ones that work and the ones
amlocal refuses), Pipeline.graph / service_endpoint, PublishedPipeline.get_all / get_graph /
get_step_names, StepRun.get_stdout_log / get_stderr_log."""
from __future__ import annotations

import pytest


def _src(tmp_path, name: str = "a.py", text: str = "print('hi')\n") -> str:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return str(folder)


def test_pipeline_data_bindings_and_data_types():
    from amlocal.pipeline.core import PipelineData
    from amlocal.pipeline.core.builder import InputPortBinding
    data = PipelineData("model", data_type="AnyDirectory", is_directory=True,
                        pipeline_output_name="best")
    assert data.data_type == "AnyDirectory" and data.pipeline_output_name == "best"
    binding = data.create_input_binding()
    assert isinstance(binding, InputPortBinding) and binding.name == "model"
    assert binding.bind_object is data and binding.bind_mode == "mount"
    down = data.create_input_binding("m", "download", "there", True)
    assert (down.name, down.bind_mode, down.path_on_compute, down.overwrite) == ("m", "download", "there", True)
    assert str(down) == "$AZUREML_DATAREFERENCE_m"
    with pytest.raises(ValueError, match=r"Input \[model\] has an invalid mode \[direct\]"):
        data.create_input_binding(mode="direct")
    assert data.as_download("x").bind_mode == "download"
    assert binding.get_bind_object_data_type() == "AnyDirectory" == binding.data_type
    assert data.as_dataset().as_mount().get_bind_object_data_type() == "AzureMLDataset"
    resource = down.as_resource()
    assert resource is not down and resource.is_resource and not down.is_resource
    assert (resource.name, resource.bind_object, resource.bind_mode, resource.path_on_compute) == \
        ("m", data, "download", "there")
    with pytest.raises(ValueError, match="pipeline_output_name 'a b' is not valid"):
        PipelineData("x", pipeline_output_name="a b")


def test_data_reference_binding_has_no_data_type(workspace):
    from amlocal.data.data_reference import DataReference
    from amlocal.pipeline.core.builder import InputPortBinding
    ref = DataReference(workspace.get_default_datastore(), "r", "raw")
    assert InputPortBinding(ref, "r").get_bind_object_data_type() is None


def test_step_hooks_that_work_and_those_amlocal_refuses(workspace, tmp_path):
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import OutputPortBinding, Pipeline, PipelineData, PipelineStep
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path)
    step = PythonScriptStep("a.py", source_directory=src)
    assert step.get_source_directory(None, src, "a.py") == src
    pipeline = Pipeline(workspace, [step], default_source_directory=src)
    assert step.get_source_directory(pipeline, None, "a.py") == src
    with pytest.raises(ValueError, match=r"Step \[a.py\]: script not found at: .*missing.py"):
        step.get_source_directory(None, src, "missing.py")

    data, other = PipelineData("d"), PipelineData("other")
    PipelineStep.validate_arguments(["--x", data, data.as_input()], [data], [])
    PipelineStep.validate_arguments([other], [], [other])
    with pytest.raises(ValueError, match="PipelineData 'other' is used in arguments but is in neither"):
        PipelineStep.validate_arguments([other], [data], [])
    port = OutputPortBinding("port")
    with pytest.raises(ValueError, match="Output port appears in arguments list but is not in the output list"):
        PipelineStep.validate_arguments([port], [], [])

    for call in (lambda: step.create_module_def("escloud", [], []),
                 lambda: step.create_input_output_bindings([], [], None),
                 lambda: PipelineStep.resolve_input_arguments([], [], [], []),
                 lambda: step.create_node(None, None, None)):
        with pytest.raises(UserErrorException, match="freeze every step themselves"):
            call()


def test_parallel_run_step_create_module_def_is_refused(tmp_path):
    from amlocal.core import Environment
    from amlocal.core.dataset import Dataset
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.steps import ParallelRunConfig, ParallelRunStep
    src = _src(tmp_path, "score.py", "def run(mb):\n    return mb\n")
    config = ParallelRunConfig(environment=Environment("e"), entry_script="score.py",
                               error_threshold=-1, output_action="summary_only",
                               compute_target="local", node_count=1, source_directory=src)
    files = Dataset.File.from_files(str(tmp_path / "src" / "*.py"))
    step = ParallelRunStep("prs", config, [files.as_named_input("docs")])
    with pytest.raises(UserErrorException, match="create_module_def builds Azure's pipeline service graph"):
        step.create_module_def("escloud", [], [])


def test_graph_endpoint_and_published_lookups(workspace, tmp_path, caplog):
    from amlocal.errors import ValidationError
    from amlocal.pipeline.core import Pipeline, PipelineData, PublishedPipeline
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path)
    (tmp_path / "src" / "b.py").write_text("print('b')\n")
    data = PipelineData("d", pipeline_output_name="result")
    first = PythonScriptStep("a.py", name="first", source_directory=src, arguments=[data], outputs=[data])
    second = PythonScriptStep("b.py", name="second", source_directory=src, inputs=[data])
    pipeline = Pipeline(workspace, [second, first])
    graph = pipeline.graph
    assert [n["name"] for n in graph["steps"]] == ["first", "second"]
    assert all(n["snapshot"] is None for n in graph["steps"])   # nothing stored
    assert graph["pipeline_outputs"] == {"result": {"node": "first", "output": "d"}}
    assert pipeline.service_endpoint() == "amlocal://local"

    published = pipeline.publish(name="two")
    disabled = pipeline.publish(name="off")
    disabled.disable()
    assert published.get_step_names() == ["first", "second"]
    assert published.get_graph()["pipeline_outputs"] == graph["pipeline_outputs"]
    with caplog.at_level("WARNING"):
        assert [p.id for p in PublishedPipeline.get_all(workspace)] == [published.id]
    assert "get_all(workspace) is being deprecated" in caplog.text
    assert {p.id for p in PublishedPipeline.get_all(workspace, active_only=False)} == {published.id, disabled.id}

    twice = PythonScriptStep("b.py", name="twice", source_directory=src,
                             outputs=[PipelineData("e", pipeline_output_name="result")])
    with pytest.raises(ValidationError, match="Duplicate pipeline output with name result"):
        Pipeline(workspace, [first, twice]).graph


@pytest.mark.usefixtures("docker_engine")
def test_pipeline_output_and_step_logs(workspace, tmp_path):
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineRun
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, "w.py", "import os, sys\nos.makedirs(sys.argv[1], exist_ok=True)\n"
               "open(os.path.join(sys.argv[1], 'r.txt'), 'w').write('42')\n"
               "print('out line')\nprint('err line', file=sys.stderr)\n")
    data = PipelineData("d", pipeline_output_name="answer")
    step = PythonScriptStep("w.py", name="writer", source_directory=src, arguments=[data],
                            outputs=[data])
    run = Pipeline(workspace, [step]).submit("methods")
    assert run.wait_for_completion(show_output=False) == "Finished"
    answer = run.get_pipeline_output("answer")
    assert answer.name == "answer" and answer.pipeline_run_id == run.id
    assert answer.download(str(tmp_path / "got"), show_progress=False) == 1
    assert (tmp_path / "got" / answer.path_on_datastore / "r.txt").read_text() == "42"
    same = run.find_step_run("writer")[0].get_output_data("d")
    assert same.path_on_datastore == answer.path_on_datastore
    with pytest.raises(UserErrorException, match="its pipeline outputs: answer"):
        run.get_pipeline_output("question")
    writer = run.find_step_run("writer")[0]
    log = writer.get_stdout_log()
    assert "out line" in log and "err line" in log and writer.get_stderr_log() == log
    assert PipelineRun.get_pipeline_runs(workspace, "nope") == []
