"""DataReference as v1 programs pass it: constructed or from a datastore's helpers, as a step
input (mount, download, upload) and argument, port renaming, StepSequence, and the dataset
factories that accept DataReference and DataPath."""
from __future__ import annotations

import re
import textwrap

import pytest

HEX = re.compile(r"^[0-9a-f]{32}$")


def _src(tmp_path, **scripts):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


@pytest.fixture
def ds(workspace, tmp_path):
    """The default datastore with raw/a.txt, raw/b.txt and raw/one.csv."""
    local = tmp_path / "local"
    (local / "raw").mkdir(parents=True)
    (local / "raw" / "a.txt").write_text("alpha")
    (local / "raw" / "b.txt").write_text("beta")
    (local / "raw" / "one.csv").write_text("x,y\n1,2\n3,4\n")
    store = workspace.get_default_datastore()
    store.upload(str(local), target_path="", show_progress=False)
    return store


def test_constructor_names_modes_and_placeholder(ds):
    from amlocal.data.data_reference import DataReference
    from amlocal.errors import UserErrorException
    root = DataReference(ds)
    assert root.data_reference_name == ds.name and root.mode == "mount"
    assert str(root) == repr(root) == f"$AZUREML_DATAREFERENCE_{ds.name}"
    for current in ("/", ".", "./"):
        assert DataReference(ds, path_on_datastore=current).data_reference_name == ds.name
    below = DataReference(ds, path_on_datastore="raw")
    assert HEX.match(below.data_reference_name)
    named = DataReference(ds, "train", "raw/a.txt", "download", "inp", True)
    assert (named.datastore, named.data_reference_name, named.path_on_datastore, named.mode,
            named.path_on_compute, named.overwrite) == (ds, "train", "raw/a.txt", "download", "inp", True)
    with pytest.raises(UserErrorException, match="Invalid mode Mount. Only mount, download, upload"):
        DataReference(ds, mode="Mount")


def test_as_modes_copy_and_keep_azure_quirks(ds):
    from amlocal.data.data_reference import DataReference
    ref = DataReference(ds, "r", "raw", path_on_compute="before", overwrite=False)
    down = ref.as_download(path_on_compute="there", overwrite=True)
    assert down is not ref and down.mode == "download" and down.data_reference_name == "r"
    assert down.path_on_compute == "there" and down.overwrite is False  # overwrite ignored, as Azure
    assert ref.mode == "mount" and ref.path_on_compute == "before"
    assert ref.as_upload().path_on_compute is None  # replaced, even by None
    assert ref.as_upload("up").mode == "upload"
    mounted = down.as_mount()
    assert mounted.mode == "mount" and mounted.path_on_compute == "there"


def test_path_joins_plainly_and_names(ds):
    from amlocal.data.data_reference import DataReference
    root = DataReference(ds)
    assert root.path() is root and root.path("./") is root
    renamed = root.path(None, "named_root")
    assert renamed.data_reference_name == "named_root" and renamed.path_on_datastore is None
    sub = DataReference(ds, "r", "raw", mode="download", path_on_compute="x", overwrite=True).path("a.txt")
    assert sub.path_on_datastore == "raw/a.txt" and sub.mode == "mount"
    assert sub.path_on_compute is None and sub.overwrite is False and HEX.match(sub.data_reference_name)
    assert root.path("raw/", "n").path_on_datastore == "raw/"
    assert DataReference(ds, "r", "raw/").path("x").path_on_datastore == "raw//x"  # no normalising


def test_to_config_and_create(ds):
    from amlocal.core.runconfig import DataReferenceConfiguration
    from amlocal.data.data_reference import DataReference
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    config = DataReference(ds, "r", "./", "download", ".", True).to_config()
    assert isinstance(config, DataReferenceConfiguration)
    assert (config.data_store_name, config.mode, config.path_on_data_store, config.path_on_compute,
            config.overwrite) == (ds.name, "download", None, None, True)
    ref = DataReference.create("made", DataPath(ds, "raw"), DataPathComputeBinding("download", "d", True))
    assert (ref.data_reference_name, ref.path_on_datastore, ref.mode, ref.path_on_compute,
            ref.overwrite) == ("made", "raw", "download", "d", True)
    with pytest.raises(ValueError, match="datapath and datapath_compute_binding are expected"):
        DataReference.create("x", DataPath(ds, "raw"))


def test_datastore_helpers_return_references(ds, tmp_path):
    from amlocal.data.data_reference import DataReference
    assert ds.path() is ds.path() and ds.path().data_reference_name == ds.name
    sub = ds.path("raw/a.txt")
    assert isinstance(sub, DataReference) and HEX.match(sub.data_reference_name)
    assert ds.path("raw", data_reference_name="raw_in").data_reference_name == "raw_in"
    assert ds.as_mount().mode == "mount" and ds.as_mount().data_reference_name == ds.name
    down = ds.as_download(path_on_compute="data")
    assert (down.mode, down.path_on_compute, down.path_on_datastore) == ("download", "data", None)
    assert ds.as_upload("out").mode == "upload"
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "f.txt").write_text("f")
    ref = ds.upload_files([str(tmp_path / "up" / "f.txt")], show_progress=False)
    assert ref.data_reference_name == ds.name and ref.path_on_datastore == ""
    ref = ds.upload(str(tmp_path / "up"), target_path="uploaded", show_progress=False)
    assert HEX.match(ref.data_reference_name) and ref.path_on_datastore == "uploaded"


def test_datapath_and_its_binding(ds):
    from amlocal.data.data_reference import DataReference
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    with pytest.raises(ValueError, match="datastore parameter is required"):
        DataPath(None, "x")
    path = DataPath(ds, "raw")
    assert re.match(rf"^{ds.name}_[0-9a-f]{{8}}$", path._name)
    assert (path.datastore_name, path.path_on_datastore) == (ds.name, "raw")
    assert path._serialize_to_dict() == {"name": path._name, "path_on_datastore": "raw",
                                         "datastore": ds.name}
    binding = DataPathComputeBinding(mode="sideways")  # checked when used, as on Azure
    with pytest.raises(ValueError, match="datapath_compute_binding is a required parameter"):
        path.create_data_reference("x")
    ref = path.create_data_reference("x", DataPathComputeBinding("download"))
    assert isinstance(ref, DataReference) and ref.mode == "download"
    back = DataPath.create_from_data_reference(ref)
    assert back.path_on_datastore == "raw" and back.datastore_name == ds.name
    assert DataPathComputeBinding.create_from_data_reference(ref)._mode == "download"
    assert binding._mode == "sideways"


def test_dataset_factories_accept_data_reference_and_datapath(ds):
    from amlocal.core import Dataset
    from amlocal.data.datapath import DataPath
    files = Dataset.File.from_files(ds.path("raw").as_download())
    assert files._to_definition()["sources"] == [{"datastore": ds.name, "path": "raw"}]
    assert sorted(files.to_path()) == ["/a.txt", "/b.txt", "/one.csv"]
    mixed = Dataset.File.from_files([ds.path("raw/a.txt"), DataPath(ds, "raw/b.txt")])
    assert sorted(mixed.to_path()) == ["/a.txt", "/b.txt"]
    table = Dataset.Tabular.from_delimited_files(ds.path("raw/one.csv"))
    assert table.to_pandas_dataframe()["y"].tolist() == [2, 4]
    table = Dataset.Tabular.from_delimited_files(DataPath(ds, "raw/one.csv"))
    assert table.to_pandas_dataframe()["x"].tolist() == [1, 3]


def test_step_construction_checks_and_renames(ds, tmp_path):
    from amlocal.data.data_reference import DataReference
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.core import Dataset
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, a="print('a')\n")
    ref = DataReference(ds, "report", "raw")
    with pytest.raises(ValueError, match="Input report appears in arguments list but is not in the input list"):
        PythonScriptStep("a.py", arguments=[ref], source_directory=src)
    with pytest.raises(ValueError, match="as_named_input"):
        PythonScriptStep("a.py", inputs=[Dataset.File.from_files((ds, "raw"))], source_directory=src)
    # an input named like an output becomes INPUT_<name>; the argument follows it
    out = PipelineData("report")
    step = PythonScriptStep("a.py", arguments=["--in", ref, "--out", out], inputs=[ref],
                            outputs=[out], source_directory=src)
    assert [i.data_reference_name for i in step.inputs] == ["INPUT_report"]
    from amlocal.pipeline.core import PipelineStep
    assert isinstance(step, PipelineStep) and step.step_type == "PythonScriptStep"
    assert [str(a) for a in step.arguments] == ["--in", "$AZUREML_DATAREFERENCE_INPUT_report", "--out",
                                                "$AZUREML_DATAREFERENCE_report"]
    # DataPath tuples
    param = PipelineParameter("where", DataPath(ds, "raw", name="raw_path"))
    with pytest.raises(ValueError, match="Length of the tuple must be 2"):
        PythonScriptStep("a.py", inputs=[(param,)], source_directory=src)
    with pytest.raises(ValueError, match="First item in the tuple should be a DataPath or PipelineParameter"):
        PythonScriptStep("a.py", inputs=[("raw", DataPathComputeBinding())], source_directory=src)
    with pytest.raises(ValueError, match="Second item in the tuple should be DataPathComputeBinding"):
        PythonScriptStep("a.py", inputs=[(param, "mount")], source_directory=src)
    with pytest.raises(ValueError, match="Default value for the PipelineParameter should be DataPath"):
        PythonScriptStep("a.py", inputs=[(PipelineParameter("s", "x"), DataPathComputeBinding())],
                         source_directory=src)
    pair = (param, DataPathComputeBinding())
    with pytest.raises(ValueError, match="Parameterized datapath raw_path is not in input list"):
        PythonScriptStep("a.py", arguments=[pair], source_directory=src)
    step = PythonScriptStep("a.py", arguments=[pair], inputs=[pair], source_directory=src)
    assert step.arguments[0] is step.inputs[0] and str(step.arguments[0]) == "$AZUREML_DATAREFERENCE_raw_path"
    # as an output, a DataPath tuple is the PipelineData named after the DataPath (as Azure)
    written = (DataPath(ds, "written", name="written_path"), DataPathComputeBinding("upload"))
    step = PythonScriptStep("a.py", arguments=[written], outputs=[written], source_directory=src)
    assert isinstance(step.outputs[0], PipelineData) and step.outputs[0].name == "written_path"
    assert step.outputs[0].output_mode == "upload" and step.arguments[0] is step.outputs[0]
    # modes that cannot be bound are reported by validate(), before anything runs
    bad = PythonScriptStep("a.py", inputs=[(param, DataPathComputeBinding("sideways"))],
                           source_directory=src)
    no_folder = PythonScriptStep("a.py", name="up", inputs=[ds.path("out").as_upload()],
                                 source_directory=src)
    errors = "\n".join(Pipeline(ds.workspace, [bad, no_folder]).validate())
    assert "Invalid mode sideways. Only mount, download, upload are supported" in errors
    assert "upload mode but has no path_on_compute" in errors


docker = pytest.mark.usefixtures("docker_engine")


@docker
def test_references_mount_download_and_upload_in_a_container(ds, tmp_path):
    from amlocal.data.data_reference import DataReference
    from amlocal.pipeline.core import Pipeline, PipelineData, StepSequence
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, consume="""
        import os, sys
        folder, single, out, report_in, report_out = sys.argv[1:6]
        print("FOLDER", sorted(os.listdir(folder)))
        print("SINGLE", open(single).read().splitlines()[1])
        print("ENV", os.environ["AZUREML_DATAREFERENCE_single"] == single)
        print("EMPTY", os.listdir(report_in))
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "r.txt"), "w").write("written by the step")
        os.makedirs(report_out, exist_ok=True)
        open(os.path.join(report_out, "done"), "w").write("ok")
    """, after="""
        import os
        print("AFTER", sorted(k for k in os.environ if k.startswith("AZUREML_DATAREFERENCE_")))
    """)
    folder = ds.path("raw")  # mount, named by a hex id
    single = DataReference(ds, "single", "raw/one.csv", mode="download")
    upload = ds.path("uploaded/here", data_reference_name="results").as_upload(
        path_on_compute="outputs/results")
    # no files: an empty folder; named like the output, so the input becomes INPUT_report
    report_in = DataReference(ds, "report", "nothing/here")
    report = PipelineData("report", datastore=ds)
    consume = PythonScriptStep("consume.py", name="consume", source_directory=src,
                               arguments=[folder, single, upload, report_in, report],
                               inputs=[folder, single, upload, report_in], outputs=[report])
    after = PythonScriptStep("after.py", name="after", source_directory=src)
    run = Pipeline(ds.workspace, StepSequence(steps=[consume, after])).submit("datarefs")
    assert run.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s for s in run.get_steps()}
    log = steps["consume"].get_job_log()
    assert "FOLDER ['a.txt', 'b.txt', 'one.csv']" in log
    assert "SINGLE 1,2" in log and "ENV True" in log and "EMPTY []" in log
    from amlocal.datastores.fs import local_path
    root = local_path(ds.url)
    assert open(f"{root}/uploaded/here/r.txt").read() == "written by the step"
    assert "AFTER []" in steps["after"].get_job_log()
    # StepSequence: 'after' has no data edge, yet waited for 'consume'
    graph = run.get_graph()
    assert {n["name"]: n["depends_on"] for n in graph["steps"]}["after"] == ["consume"]
    assert steps["after"]._info.started_at >= steps["consume"]._info.ended_at
    pipeline_log = run._store.read_artifact(run.id, "logs/amlocal/pipeline.log").decode()
    assert "data reference 'INPUT_report' (mount) names 'workspaceblobstore/nothing/here', which holds " \
           "no file" in pipeline_log


@docker
def test_script_run_config_binds_run_config_data_references(ds, tmp_path):
    from amlocal.core import Experiment, ScriptRunConfig
    from amlocal.core.runconfig import DockerConfiguration, RunConfiguration
    from amlocal.datastores.fs import local_path
    src = _src(tmp_path, job="""
        import os, sys
        print("LISTED", sorted(os.listdir(sys.argv[1])))
        os.makedirs(sys.argv[2], exist_ok=True)
        open(os.path.join(sys.argv[2], "o.txt"), "w").write("out")
    """)
    raw = ds.path("raw", data_reference_name="raw")
    out = ds.path("from_script", data_reference_name="result").as_upload(path_on_compute="result")
    rc = RunConfiguration()
    rc.data_references = {raw.data_reference_name: raw.to_config(),
                          out.data_reference_name: out.to_config()}
    config = ScriptRunConfig(source_directory=src, script="job.py", arguments=[str(raw), str(out)],
                             run_config=rc, docker_runtime_config=DockerConfiguration(use_docker=True))
    run = Experiment(ds.workspace, "script-refs").submit(config)
    assert run.wait_for_completion()["status"] == "Completed"
    log = run._store.read_artifact(run.id, "logs/user_logs/std_log.txt").decode()
    assert "LISTED ['a.txt', 'b.txt', 'one.csv']" in log
    assert open(f"{local_path(ds.url)}/from_script/o.txt").read() == "out"
