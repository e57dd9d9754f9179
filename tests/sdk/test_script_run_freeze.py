"""A ScriptRunConfig's single step is frozen by the core part (``amlocal.core._freeze_step``) and
started by the execution layer, without the pipeline package; a pipeline freezes each of its
steps through the same part and adds only what a graph has (its own objects through
``StepLinks``). Bad arguments are refused before anything is recorded."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

TRAIN = """
from azureml.core import Run
Run.get_context().log("answer", 42)
print("TRAINED")
"""


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(TRAIN))
    return folder


@pytest.fixture
def ds(workspace, tmp_path):
    local = tmp_path / "local"
    (local / "a").mkdir(parents=True)
    (local / "a" / "x.txt").write_text("A")
    (local / "t").mkdir()
    (local / "t" / "t.csv").write_text("a,b\n1,2\n")
    store = workspace.get_default_datastore()
    store.upload(str(local), show_progress=False)
    return store


def test_a_script_run_is_frozen_and_run_without_importing_the_pipeline_package(home, src):
    # a fresh interpreter: a user-managed environment runs as a process of this machine
    program = textwrap.dedent(f"""
        import sys
        from amlocal.core import Environment, Experiment, ScriptRunConfig, Workspace
        ws = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "testws")
        env = Environment("mine")
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = sys.executable
        run = Experiment(ws, "nopipe").submit(ScriptRunConfig({str(src)!r}, "train.py",
                                                               environment=env))
        details = run.wait_for_completion()
        print("STATUS", details["status"], run.get_metrics())
        print("PIPELINE MODULES", sorted(m for m in sys.modules if m.startswith("amlocal.pipeline")))
    """)
    env = {k: v for k, v in os.environ.items()
           if k not in ("AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AMLOCAL_STORE_URL")}
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "STATUS Completed {'answer': 42}" in done.stdout
    assert "PIPELINE MODULES []" in done.stdout


def test_bad_arguments_are_refused_before_anything_is_recorded(workspace, ds, src):
    from amlocal.core import Dataset, Experiment, ScriptRunConfig
    from amlocal.data.datapath import DataPath, DataPathComputeBinding
    from amlocal.data.output_dataset_config import OutputFileDatasetConfig
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import PipelineData, PipelineParameter

    files = Dataset.File.from_files((ds, "a"))
    experiment = Experiment(workspace, "refused")
    cases = [
        ([files], "a FileDataset cannot be used directly.*as_named_input"),
        (["--in", PipelineData("p")], "PipelineData .* belongs to a pipeline.*PythonScriptStep"),
        ([PipelineParameter("n", 1)], "PipelineParameter .* belongs to a pipeline"),
        ([(DataPath(ds, "a"), DataPathComputeBinding())], "tuple .* belongs to a pipeline"),
        ([ds.path("a", data_reference_name="raw")],
         "DataReference 'raw' is in the arguments but not in run_config.data_references.*"
         r"'raw': reference.to_config\(\)"),
        ([files.as_named_input("same").as_mount(), OutputFileDatasetConfig(name="same")],
         "'same' names two of them"),
    ]
    for arguments, message in cases:
        with pytest.raises(UserErrorException, match=message):
            experiment.submit(ScriptRunConfig(str(src), "train.py", arguments=arguments))
    assert workspace._store.list_runs(workspace._id) == []


def test_a_sandbox_on_a_local_run_without_docker_is_refused(workspace, src):
    from amlocal.core import Environment, Experiment, ScriptRunConfig
    from amlocal.core.runconfig import DockerConfiguration
    from amlocal.errors import ValidationError

    managed = Environment("mine")
    managed.python.user_managed_dependencies = True
    for environment in (None, managed):    # the 'local' (virtualenv) and 'host' kinds
        config = ScriptRunConfig(str(src), "train.py", environment=environment,
                                 docker_runtime_config=DockerConfiguration(sandbox=True))
        with pytest.raises(ValidationError, match="step 'train.py' is sandboxed .* needs Docker: "
                                                  "set run_config.docker.use_docker = True"):
            Experiment(workspace, "boxed").submit(config)
    assert workspace._store.list_runs(workspace._id) == []


def test_the_core_part_freezes_one_step_and_takes_the_graph_objects_through_links(workspace, ds,
                                                                                  src):
    from amlocal.core import Dataset
    from amlocal.core._freeze_step import (FrozenInput, StepDefinition, StepLinks,
                                           freeze_step)
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.data.output_dataset_config import OutputFileDatasetConfig

    files = Dataset.File.from_files((ds, "a"))
    mounted = files.as_named_input("f").as_mount()
    written = OutputFileDatasetConfig(name="written")
    upstream = OutputFileDatasetConfig(name="upstream")
    raw = ds.path("a", data_reference_name="raw")
    result = ds.path("r", data_reference_name="result").as_upload(path_on_compute="res")
    rc = RunConfiguration()
    rc.data_references = {"result": result.to_config(), "f": raw.to_config()}  # 'f' is taken

    class Marker:                               # an object only this "graph" knows
        name = "marker"

    class Links(StepLinks):
        def argument(self, arg, params):
            if isinstance(arg, Marker):
                params["m"] = 7
                return "$AML_PARAMETER_m"
            return None

        def input(self, inp, params):
            if isinstance(inp, Marker):
                return FrozenInput({"name": "marker", "type": "output", "data": "made",
                                    "mode": "mount", "path_on_compute": None},
                                   produced_by="made")
            return None

    step = StepDefinition(name="one", script_name="train.py", source_directory=src,
                          runconfig=rc, arguments=("--in", mounted, "--out", written, Marker(),
                                                   "parameter:lr", 3),
                          inputs=(mounted, raw, upstream.as_input("up"), Marker()),
                          outputs=(written,), allow_reuse=False)
    errors: list[str] = []
    node, params = freeze_step(step, workspace, node_id="one", errors=errors,
                               producers={"made": "maker"}, links=Links())
    assert errors == ["step 'one': input 'upstream' is not produced by any step; add it to "
                      "outputs= of the step that writes it"]
    assert params == {"m": 7}
    assert node["arguments"] == ["--in", mounted.arg_val, "--out", written.arg_val,
                                 "$AML_PARAMETER_m", "$AML_PARAMETER_lr", "3"]
    assert [(i["name"], i["type"], i["mode"]) for i in node["inputs"]] == [
        ("f", "dataset", "mount"), ("raw", "datareference", "mount"), ("up", "output", "mount"),
        ("marker", "output", "mount")]
    assert node["inputs"][0]["definition"] == files._to_definition()
    assert node["inputs"][1]["datastore"] == ds.name and node["inputs"][1]["path_on_datastore"] == "a"
    assert [(o["name"], o["kind"]) for o in node["outputs"]] == [
        ("written", "output_dataset"), ("result", "data_reference")]
    assert node["depends_on"] == ["maker"]
    assert node["compute"] == {"name": "local", "kind": "docker"} and node["sandbox"] is None
    assert (node["allow_reuse"], node["snapshot"], node["source_directory"]) == (False, None, str(src))

    # the same step on the local-run matrix's kinds: no sandbox capability, a clear error
    rc.docker.sandbox = True
    errors = []
    node, _ = freeze_step(StepDefinition(name="one", script_name="train.py", source_directory=src,
                                         runconfig=rc), workspace, node_id="one", errors=errors,
                          local_kind="host")
    assert node["compute"] == {"name": "local", "kind": "host"}
    assert len(errors) == 1 and "needs Docker" in errors[0]
