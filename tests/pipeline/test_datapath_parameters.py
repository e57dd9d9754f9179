"""PipelineParameters whose default is a DataPath, a FileDataset or a TabularDataset: the
``(parameter, DataPathComputeBinding)`` input form, ``DatasetConsumptionConfig(name, parameter)``,
per-submission overrides (SDK, published pipelines, ``-d``/``-p`` on the CLI), reuse, and the
errors a wrong value gets before anything runs."""
from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

docker = pytest.mark.usefixtures("docker_engine")

READ_DATAPATH = """
    import os, sys
    text, where, out = sys.argv[2], sys.argv[4], sys.argv[6]
    files = sorted(os.listdir(where)) if os.path.isdir(where) else [os.path.basename(where)]
    content = open(os.path.join(where, "x.txt") if os.path.isdir(where) else where).read()
    print("STRING", text, "FILES", files, "CONTENT", content)
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "seen.txt"), "w").write(content)
"""


def _src(tmp_path, **scripts):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


@pytest.fixture
def ds(workspace, tmp_path):
    """The default datastore with a/x.txt ("A"), b/x.txt ("B") and two small CSV tables."""
    local = tmp_path / "local"
    for folder, text in (("a", "A"), ("b", "B")):
        (local / folder).mkdir(parents=True)
        (local / folder / "x.txt").write_text(text)
    (local / "t").mkdir()
    (local / "t" / "titanic.csv").write_text("PassengerId,Survived\n1,0\n2,1\n3,1\n")
    (local / "t" / "iris.csv").write_text("sepal_length,species\n5.1,setosa\n7.0,versicolor\n")
    store = workspace.get_default_datastore()
    store.upload(str(local), show_progress=False)
    return store


def _datapath_pipeline(ds, tmp_path):
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    where = PipelineParameter(name="input_datapath", default_value=DataPath(ds, "a", name="lake_a"))
    pair = (where, DataPathComputeBinding(mode="mount"))
    text = PipelineParameter(name="input_string", default_value="s1")
    seen = PipelineData("seen", datastore=ds)  # an output, so that the step can be reused
    step = PythonScriptStep("read.py", name="read", source_directory=_src(tmp_path, read=READ_DATAPATH),
                            arguments=["--arg1", text, "--arg2", pair, "--out", seen],
                            inputs=[pair], outputs=[seen])
    return Pipeline(ds.workspace, [step])


def _read(run):
    run.wait_for_completion(show_output=False)
    step = next(run.get_steps())
    assert step.get_status() == "Finished", step.get_job_log()
    return step


@docker
def test_datapath_parameter_defaults_overrides_reuse_and_publish(ds, tmp_path):
    from amlocal.core import Experiment
    from amlocal.data.datapath import DataPath
    pipeline = _datapath_pipeline(ds, tmp_path)
    first = _read(pipeline.submit("datapaths"))
    assert "STRING s1 FILES ['x.txt'] CONTENT A" in first.get_job_log()
    assert first._info.definition["arguments"][3] == "/amlocal/inputs/lake_a"

    other = _read(Experiment(ds.workspace, "datapaths").submit(pipeline, pipeline_parameters={
        "input_datapath": DataPath(ds, "b"), "input_string": "s2"}))
    assert "STRING s2 FILES ['x.txt'] CONTENT B" in other.get_job_log()

    again = _read(pipeline.submit("datapaths", pipeline_parameters={"input_datapath": DataPath(ds, "a")}))
    assert again._info.reused_from == first.id  # the same DataPath: nothing changed

    changed = _read(pipeline.submit("datapaths", pipeline_parameters={"input_datapath": DataPath(ds, "b")}))
    record = changed._info.definition["reuse"]
    assert record["decision"] == "ran" and record["changed"] == ["inputs.lake_a"]
    single = _read(pipeline.submit("datapaths", pipeline_parameters={
        "input_datapath": DataPath(ds, "b/x.txt")}))
    assert "FILES ['x.txt'] CONTENT B" in single.get_job_log()
    assert single._info.definition["arguments"][3] == "/amlocal/inputs/lake_a/x.txt"

    published = pipeline.publish(name="DataPath_Pipeline", continue_on_step_failure=True)
    stored = published._info.definition
    json.dumps(stored)  # plain JSON
    assert stored["parameters"] == {
        "input_datapath": {"kind": "datapath", "datastore": ds.name, "path_on_datastore": "a"},
        "input_string": "s1"}
    from_published = _read(published.submit(ds.workspace, "datapaths", pipeline_parameters={
        "input_datapath": DataPath(ds, "b"), "input_string": "p"}))
    assert "STRING p FILES ['x.txt'] CONTENT B" in from_published.get_job_log()

    from amlocal.cli import cli
    result = CliRunner().invoke(cli, [
        "run", "submit-pipeline", "-i", published.id, "-w", ds.workspace.name,
        "-g", ds.workspace.resource_group, "-d", f"input_datapath={ds.name}/b",
        "-p", "input_string=cli", "--wait"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "STRING cli FILES ['x.txt'] CONTENT B" in result.output


def test_wrong_values_are_refused_before_anything_runs(ds, tmp_path):
    from amlocal.core import Dataset
    from amlocal.data.datapath import DataPath
    from amlocal.errors import UserErrorException
    pipeline = _datapath_pipeline(ds, tmp_path)
    published = pipeline.publish("p")
    cases = [
        ({"input_datapath": "b"}, "pipeline parameter 'input_datapath' takes a DataPath"),
        ({"input_datapath": ["b"]}, "Invalid parameter type <class 'list'>"),
        ({"input_string": DataPath(ds, "b")}, "pipeline parameter 'input_string' takes a str"),
        ({"input_datapath": Dataset.File.from_files((ds, "a"))}, "takes a DataPath"),
        ({"nosuch": 1}, "Pipeline parameter with name nosuch does not exist"),
    ]
    for given, message in cases:
        with pytest.raises(UserErrorException, match=message):
            pipeline.submit("refused", pipeline_parameters=given)
        with pytest.raises(UserErrorException, match=message):
            published.submit(ds.workspace, "refused", pipeline_parameters=given)
    assert ds.workspace._store.list_runs(ds.workspace._id) == []


def test_parameter_defaults_and_their_misuse(ds, tmp_path):
    from amlocal.core import Dataset
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.data.dataset_consumption_config import DatasetConsumptionConfig
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, a="print('a')\n")
    with pytest.raises(ValueError, match="DataPath, PipelineDataset, FileDataset or TabularDataset"):
        PipelineParameter("p", object())
    # two steps, one name, two defaults
    one = PipelineParameter("where", DataPath(ds, "a"))
    two = PipelineParameter("where", DataPath(ds, "b"))
    steps = [PythonScriptStep("a.py", name=n, inputs=[(p, DataPathComputeBinding())], source_directory=src)
             for n, p in (("one", one), ("two", two))]
    errors = Pipeline(ds.workspace, steps).validate()
    assert any("Graph already has pipeline parameter with same name 'where'" in e for e in errors)
    # a DataPath parameter on its own in arguments
    alone = PythonScriptStep("a.py", arguments=[one], source_directory=src)
    assert any("pass the tuple (parameter, DataPathComputeBinding(mode='mount'))" in e
               for e in Pipeline(ds.workspace, [alone]).validate())
    # a dataset parameter needs a dataset default; tabular data cannot be mounted
    with pytest.raises(UserErrorException, match="Default value must be of types: FileDataset or TabularDataset"):
        DatasetConsumptionConfig("d", PipelineParameter("s", "x"))
    table = Dataset.Tabular.from_delimited_files((ds, "t/titanic.csv"))
    with pytest.raises(UserErrorException, match="does not support mount"):
        DatasetConsumptionConfig("t", PipelineParameter("t", table), mode="mount")
    # a dataset of the other kind is refused at submit
    files = PipelineParameter("files", Dataset.File.from_files((ds, "a")))
    step = PythonScriptStep("a.py", arguments=[DatasetConsumptionConfig("f", files).as_mount()],
                            source_directory=src)
    with pytest.raises(UserErrorException, match="takes a FileDataset"):
        Pipeline(ds.workspace, [step]).submit("x", pipeline_parameters={"files": table})


@docker
def test_dataset_parameters_read_by_the_consumption_name(ds, tmp_path):
    from amlocal.core import Dataset
    from amlocal.data.dataset_consumption_config import DatasetConsumptionConfig
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, train="""
        import os, sys
        from azureml.core import Run
        inputs = Run.get_context().input_datasets
        print("FILE", open(inputs["file_dataset"]).read().splitlines()[0])
        print("ARGS", sys.argv[2] == inputs["file_dataset"], sys.argv[4] == inputs["tabular_dataset"].id)
        print("TABLE", inputs["tabular_dataset"].id)
        print("DIRECT", sys.argv[6])
    """)
    titanic_files = Dataset.File.from_files((ds, "t/titanic.csv"))
    titanic = Dataset.Tabular.from_delimited_files([(ds, "t/titanic.csv")])
    registered = Dataset.File.from_files((ds, "a")).register(ds.workspace, "letters")
    file_param = PipelineParameter(name="file_ds_param", default_value=titanic_files)
    file_input = DatasetConsumptionConfig("file_dataset", file_param).as_mount()
    table_param = PipelineParameter(name="tabular_ds_param", default_value=titanic)
    table_input = DatasetConsumptionConfig("tabular_dataset", table_param)
    direct = PipelineParameter(name="letters_param", default_value=registered)
    step = PythonScriptStep("train.py", name="train_step", source_directory=src,
                            arguments=["--param1", file_input, "--param2", table_input,
                                       "--param3", direct],  # added to the inputs
                            inputs=[file_input, table_input])
    assert [getattr(i, "name", None) for i in step.inputs][-1] == "letters"
    pipeline = Pipeline(ds.workspace, [step])
    log = _read(pipeline.submit("datasets")).get_job_log()
    assert "FILE PassengerId,Survived" in log and "ARGS True True" in log
    assert f"TABLE {titanic.id}" in log and "DIRECT /amlocal/inputs/letters" in log

    iris_files = Dataset.File.from_files((ds, "t/iris.csv"))
    iris = Dataset.Tabular.from_delimited_files((ds, "t/iris.csv"))
    log = _read(pipeline.submit("datasets", pipeline_parameters={
        "file_ds_param": iris_files, "tabular_ds_param": iris})).get_job_log()
    assert "FILE sepal_length,species" in log and f"TABLE {iris.id}" in log


def test_what_reading_needs_is_added_to_a_copy_of_the_environment(ds, tmp_path):
    from amlocal.core import Dataset, Environment
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.data.dataset_consumption_config import DatasetConsumptionConfig
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.core._freeze import freeze
    from amlocal._engine.graph import Graph
    from amlocal.pipeline.core._submit import _with_value_requirements, resolve_parameters
    from amlocal.pipeline.steps import ExecutePythonScriptStep, PythonScriptStep
    src = _src(tmp_path, a="print('a')\n")
    env = Environment("mine")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["pandas==2.2.2"])
    env.register(ds.workspace)
    rc = RunConfiguration()
    rc.environment = env
    table = Dataset.Tabular.from_delimited_files((ds, "t/titanic.csv"))
    files = Dataset.File.from_files((ds, "a"))
    files_param = PipelineParameter("files", files)
    steps = [
        PythonScriptStep("a.py", name="tabular", source_directory=src, runconfig=rc,
                         arguments=[table.as_named_input("titanic"),
                                    DatasetConsumptionConfig("f", files_param).as_mount()]),
        PythonScriptStep("a.py", name="plain", source_directory=src,
                         arguments=[files.as_named_input("letters").as_mount()]),
        ExecutePythonScriptStep("def azureml_main(dataframe1=None, dataframe2=None):\n    return dataframe1,\n",
                                dataframe1=table, name="studio"),
    ]
    graph, errors = freeze(Pipeline(ds.workspace, steps), take_snapshots=False)
    assert errors == []
    envs = {n["name"]: n["environment"] for n in graph["steps"]}
    assert [p for p in envs["tabular"]["pip_packages"] if p.startswith("pandas")] == ["pandas==2.2.2"]
    assert "pyarrow" in envs["tabular"]["pip_packages"] and "fsspec" in envs["tabular"]["pip_packages"]
    assert "pandas" not in envs["plain"]["pip_packages"]       # files only: nothing to add
    studio = [p.split("=")[0] for p in envs["studio"]["pip_packages"]]
    assert studio.count("pandas") == studio.count("pyarrow") == 1  # no duplicates
    # the registered environment is not changed
    again = Environment.get(ds.workspace, "mine")
    assert list(again.python.conda_dependencies.pip_packages) == ["pandas==2.2.2"]
    # a dataset submitted for a parameter brings what it needs (http(s): aiohttp)
    web = Dataset.File.from_files("https://example.org/data/letters.txt", validate=False)
    params = resolve_parameters(graph, {"files": web}, ds.workspace)
    submitted = _with_value_requirements(Graph.from_dict(graph), params)
    assert "aiohttp" in submitted.find("tabular").environment["pip_packages"]
    assert "aiohttp" not in envs["tabular"]["pip_packages"]  # the frozen graph is kept as it was
