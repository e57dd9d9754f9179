"""Azure's pipeline YAML: Pipeline.load_yaml (parameters, data references, datasets, outputs,
arguments, runconfig files), `amlocal run submit-pipeline -y`, PipelineData's
pipeline_output_name read back with PipelineRun.get_pipeline_output, and PublishedPipeline.save /
PipelineRun.save writing a YAML that load_yaml reads again."""
from __future__ import annotations

import textwrap

import pytest

PREP = """
    import argparse, os
    p = argparse.ArgumentParser()
    p.add_argument("--raw"); p.add_argument("--extra"); p.add_argument("--out")
    p.add_argument("--alpha")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "prep.txt"), "w") as f:
        f.write("raw=" + ",".join(sorted(os.listdir(a.raw))) + "\\n")
        extra = a.extra if os.path.isfile(a.extra) else os.path.join(a.extra, os.listdir(a.extra)[0])
        f.write("extra=" + open(extra).read() + "\\n")
        f.write("alpha=" + a.alpha + "\\n")
        f.write("tag=" + os.environ["AML_PARAMETER_TAG"] + "\\n")
    print("PREPARED", open(os.path.join(a.out, "prep.txt")).read().replace("\\n", ";"))
"""
TRAIN = """
    import argparse, os, sys
    p = argparse.ArgumentParser()
    p.add_argument("--data"); p.add_argument("--letters"); p.add_argument("--model")
    a = p.parse_args()
    os.makedirs(a.model, exist_ok=True)
    text = open(os.path.join(a.data, "prep.txt")).read()
    letters = sorted(os.listdir(a.letters))
    open(os.path.join(a.model, "model.txt"), "w").write(text + "letters=" + ",".join(letters) + "\\n")
    print("TRAINED on", letters)
    print("to stderr", file=sys.stderr)
"""

YAML = """
pipeline:
  description: letters from yaml
  default_compute: cpu-cluster
  parameters:
    alpha: {type: float, default: 0.5}
    tag: {type: string, default: first}
    extra: {type: datapath, default: {datastore: workspaceblobstore, path_on_datastore: raw/b.txt}}
  data_references:
    raw: {datastore: workspaceblobstore, path_on_datastore: raw}
    letters: {dataset_name: letters}
  steps:
    prep:
      type: PythonScriptStep
      script_name: prep.py
      source_directory: src
      runconfig: prep.runconfig
      arguments: [--raw, "input:raw_in", --extra, "input:extra_in", --out, "output:prepared",
                  --alpha, "parameter:ALPHA"]
      parameters:
        ALPHA: {source: alpha}
        TAG: {source: tag}
      inputs:
        raw_in: {source: raw}
        extra_in: {source: extra, bind_mode: download}
      outputs:
        prepared: {destination: prepared_data, bind_mode: mount}
    train:
      type: PythonScriptStep
      name: trainer
      script_name: train.py
      source_directory: src
      allow_reuse: false
      arguments: [--data, "input:data", --letters, "input:letters_in", --model, "output:model"]
      inputs:
        data: {source: prepared_data, bind_mode: download}
        letters_in: {source: letters}
      outputs:
        model: {destination: model_out, pipeline_output_name: final_model}
"""


@pytest.fixture
def project(workspace, tmp_path):
    """A folder holding pipeline.yml, src/ and prep.runconfig; the default datastore holds
    raw/a.txt and raw/b.txt; dataset 'letters' is registered; 'cpu-cluster' exists."""
    from amlocal.core import Dataset
    from amlocal.core.compute import AmlCompute
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    local = tmp_path / "local"
    (local / "raw").mkdir(parents=True)
    (local / "raw" / "a.txt").write_text("alpha")
    (local / "raw" / "b.txt").write_text("beta")
    store = workspace.get_default_datastore()
    assert store.name == "workspaceblobstore"
    store.upload(str(local), target_path="", show_progress=False)
    Dataset.File.from_files([(store, "raw/a.txt"), (store, "raw/b.txt")]).register(workspace, "letters")
    AmlCompute(workspace, "cpu-cluster")
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "prep.py").write_text(textwrap.dedent(PREP))
    (folder / "src" / "train.py").write_text(textwrap.dedent(TRAIN))
    rc = RunConfiguration()
    rc.environment.python.conda_dependencies = CondaDependencies.create(pip_packages=[])
    rc.environment_variables = {"FROM_RUNCONFIG": "yes"}
    rc.save(str(folder / "prep.runconfig"))
    (folder / "pipeline.yml").write_text(YAML)
    return folder


def test_load_yaml_builds_the_steps_as_azure_does(workspace, project, monkeypatch):
    from amlocal.data.data_reference import DataReference
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core._inputs import PipelineDataset, _PipelineIO
    from amlocal.pipeline.core.builder import InputPortBinding, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    monkeypatch.chdir(project.parent)   # relative paths fall back to the YAML's folder
    pipeline = Pipeline.load_yaml(workspace, str(project / "pipeline.yml"))
    assert pipeline._description == "letters from yaml"
    prep, train = pipeline._steps
    assert isinstance(prep, PythonScriptStep) and prep.name == "prep" and train.name == "trainer"
    assert prep.compute_target == train.compute_target == "cpu-cluster"
    assert prep.source_directory == str(project / "src")
    assert prep.runconfig.environment_variables == {"FROM_RUNCONFIG": "yes"}
    assert train.allow_reuse is False and prep.allow_reuse is True
    raw_in, extra_in = prep.inputs
    assert isinstance(raw_in, InputPortBinding) and isinstance(raw_in.bind_object, DataReference)
    assert raw_in.name == "raw_in" and raw_in.bind_object.path_on_datastore == "raw"
    assert isinstance(extra_in, _PipelineIO) and extra_in.name == "extra_in"
    assert extra_in.datapath_param_name == "extra"
    assert [str(a) for a in prep.arguments] == [
        "--raw", "$AZUREML_DATAREFERENCE_raw_in", "--extra", "$AZUREML_DATAREFERENCE_extra_in",
        "--out", "$AZUREML_DATAREFERENCE_prepared_data", "--alpha",
        "PipelineParameter_Name:alpha_Default:0.5"]
    assert isinstance(prep.params["TAG"], PipelineParameter) and prep.params["TAG"].default_value == "first"
    data, letters = train.inputs
    assert data.bind_object is prep.outputs[0] and data.bind_mode == "download"
    assert isinstance(letters, PipelineDataset) and letters.name == "letters_in"
    assert train.outputs[0].pipeline_output_name == "final_model"
    graph = pipeline.graph
    assert [n["name"] for n in graph["steps"]] == ["prep", "trainer"]
    assert graph["steps"][1]["depends_on"] == ["prep"]
    assert graph["parameters"]["alpha"] == 0.5 and graph["parameters"]["tag"] == "first"
    assert graph["pipeline_outputs"] == {"final_model": {"node": "trainer", "output": "model_out"}}
    assert pipeline.validate() == []
    assert pipeline.service_endpoint() == "amlocal://local"


@pytest.mark.usefixtures("docker_engine")
def test_yaml_pipeline_runs_and_saves_a_yaml_that_loads_again(workspace, project, tmp_path,
                                                              monkeypatch):
    from amlocal.pipeline.core import Pipeline, PipelineRun, PublishedPipeline
    from amlocal.pipeline.core.run import PortDataReference
    monkeypatch.chdir(project)
    pipeline = Pipeline.load_yaml(workspace, "pipeline.yml")
    published = pipeline.publish(name="letters", description="from yaml")
    run = published.submit(workspace, "yaml-letters", pipeline_parameters={"alpha": 2.5, "tag": "second"})
    assert run.wait_for_completion(show_output=False) == "Finished"

    out = run.get_pipeline_output("final_model")
    assert isinstance(out, PortDataReference) and out.name == "final_model"
    assert out.download(str(tmp_path / "got"), show_progress=False) == 1
    model = (tmp_path / "got" / out.path_on_datastore / "model.txt").read_text()
    assert model == ("raw=a.txt,b.txt\nextra=beta\nalpha=2.5\ntag=second\n"
                     "letters=a.txt,b.txt\n")
    from amlocal.errors import UserErrorException
    with pytest.raises(UserErrorException, match="no pipeline output 'nope'; its pipeline outputs: final_model"):
        run.get_pipeline_output("nope")

    trainer = run.find_step_run("trainer")[0]
    log = trainer.get_stdout_log()
    assert "TRAINED on ['a.txt', 'b.txt']" in log and "to stderr" in log
    assert trainer.get_stderr_log() == log

    runs = PipelineRun.get_pipeline_runs(workspace, published.id)
    assert [r.id for r in runs] == [run.id] and isinstance(runs[0], PipelineRun)
    assert PipelineRun.get_pipeline_runs(workspace, "no-such-id") == []

    assert published.get_step_names() == ["prep", "trainer"]
    assert published.get_graph()["steps"][0]["name"] == "prep"
    assert [p.id for p in PublishedPipeline.get_all(workspace)] == [published.id]

    saved = tmp_path / "saved"
    saved.mkdir()
    published.save(str(saved))
    import yaml
    document = yaml.safe_load((saved / "letters.yml").read_text())
    prep = document["pipeline"]["steps"]["prep"]
    assert prep["arguments"] == ["--raw", "input:raw_in", "--extra", "input:extra_in", "--out",
                                 "output:prepared_data", "--alpha", "parameter:ALPHA"]
    assert prep["parameters"] == {"ALPHA": {"source": "alpha"}, "TAG": {"source": "tag"}}
    assert prep["runconfig"] == "letters.prep.runconfig" and prep["compute"] == "cpu-cluster"
    assert prep["inputs"]["extra_in"] == {"source": "extra", "bind_mode": "download"}
    assert document["pipeline"]["data_references"] == {
        "raw_in": {"datastore": "workspaceblobstore", "path_on_datastore": "raw"},
        "letters_in": {"dataset_name": "letters"}}
    assert document["pipeline"]["steps"]["trainer"]["outputs"]["model_out"][
        "pipeline_output_name"] == "final_model"
    assert (saved / "letters.prep.runconfig").is_file()

    run.save(str(saved / "run.yml"))
    from_run = yaml.safe_load((saved / "run.yml").read_text())
    assert from_run["pipeline"]["steps"]["prep"]["arguments"] == prep["arguments"]
    assert from_run["pipeline"]["steps"]["prep"]["runconfig"] == "run.prep.runconfig"
    assert from_run["pipeline"]["parameters"] == document["pipeline"]["parameters"]
    again = Pipeline.load_yaml(workspace, str(saved / "letters.yml"))
    regraph = again.graph
    original = pipeline.graph
    for before, after in zip(original["steps"], regraph["steps"]):
        assert after["name"] == before["name"] and after["arguments"] == before["arguments"]
        assert after["environment"] == before["environment"]
        assert after["environment_variables"] == before["environment_variables"]
        assert [(i["name"], i["type"], i["mode"]) for i in after["inputs"]] == \
            [(i["name"], i["type"], i["mode"]) for i in before["inputs"]]
    assert regraph["parameters"] == original["parameters"]
    assert regraph["pipeline_outputs"] == original["pipeline_outputs"]


def test_submit_pipeline_cli_runs_a_yaml_file(workspace, project, monkeypatch, docker_engine):
    from click.testing import CliRunner
    from amlocal.cli import cli
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, [
        "run", "submit-pipeline", "-y", "pipeline.yml", "-n", "yaml-cli", "-p", "alpha=7",
        "-d", "extra=workspaceblobstore/raw/a.txt", "-w", workspace.name, "-g",
        workspace.resource_group, "--wait"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Pipeline was submitted with run ID" in result.output
    assert "PREPARED raw=a.txt,b.txt;extra=alpha;alpha=7.0;tag=first;" in result.output
    assert "final status: Finished" in result.output


@pytest.mark.parametrize("text, message", [
    ("steps: {}", 'must have a "pipeline:" section'),
    ("pipeline: {description: x}", "at least one step"),
    ("pipeline:\n  steps:\n    s: {type: ModuleStep, name: m}",
     "step s is a ModuleStep, which runs a module registered in Azure's pipeline service"),
    ("pipeline:\n  steps:\n    s: {type: DatabricksStep}", "step s is a DatabricksStep"),
    ("pipeline:\n  steps:\n    s: {databricks_step: {}}", "step s is a DatabricksStep"),
    ("pipeline:\n  steps:\n    s: {type: Weird}", "unknown type 'Weird'"),
    ("pipeline:\n  steps:\n    s: {script_name: a.py}", "step s has no type"),
    ("pipeline:\n  parameters: {p: {default: 1}}\n  steps:\n    s: {type: PythonScriptStep}",
     "Parameter p must specify a type"),
    ("pipeline:\n  parameters: {p: {type: list}}\n  steps:\n    s: {type: PythonScriptStep}",
     "Parameter type list currently unsupported"),
    ("pipeline:\n  data_references: {q: {datastore: workspaceblobstore, sql_query: x}}\n"
     "  steps:\n    s: {type: PythonScriptStep}", "SqlDataReference"),
    ("pipeline:\n  steps:\n    s: {type: PythonScriptStep, script_name: a.py, "
     "inputs: {i: {source: nowhere}}}", "input i of step s has source nowhere"),
    ("pipeline:\n  steps:\n    s: {type: PythonScriptStep, script_name: a.py, "
     "outputs: {o: {destination: d, bind_mode: download}}}", "bind_mode/type download must be mount or upload"),
    ("pipeline:\n  steps:\n    s: {type: PythonScriptStep, script_name: a.py, "
     "parameters: {P: {source: missing}}}", "Parameter P for step s is assigned to source missing"),
    ("pipeline:\n  steps:\n    s: {type: PythonScriptStep}", "has no script_name"),
])
def test_load_yaml_errors_name_the_problem(workspace, tmp_path, text, message):
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline
    path = tmp_path / "p.yml"
    path.write_text(text)
    with pytest.raises(UserErrorException) as caught:
        Pipeline.load_yaml(workspace, str(path))
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_save_refuses_what_the_schema_cannot_express(workspace, tmp_path):
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("print(1)\n")
    step = PythonScriptStep("a.py", source_directory=str(src),
                            arguments=[OutputFileDatasetConfig("table")])
    published = Pipeline(workspace, [step]).publish(name="odc")
    with pytest.raises(UserErrorException, match="output 'table' is an OutputFileDatasetConfig"):
        published.save(str(tmp_path))
    assert not (tmp_path / "odc.yml").exists()


@pytest.mark.usefixtures("docker_engine")
def test_parallel_run_step_from_yaml(workspace, tmp_path, monkeypatch):
    from amlocal.core import Dataset, Environment
    from amlocal.core.compute import AmlCompute
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunConfig, ParallelRunStep
    store = workspace.get_default_datastore()
    lake = tmp_path / "lake" / "docs"
    lake.mkdir(parents=True)
    for i in range(3):
        (lake / f"d{i}.txt").write_text(str(i))
    store.upload(str(tmp_path / "lake"), target_path="", show_progress=False)
    Dataset.File.from_files([(store, "docs")]).register(workspace, "docs")
    AmlCompute(workspace, "cpu-cluster")
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "score.py").write_text(textwrap.dedent("""
        import argparse, os
        def init():
            global PREFIX
            parser = argparse.ArgumentParser()
            parser.add_argument("--prefix")
            PREFIX = parser.parse_known_args()[0].prefix
        def run(mini_batch):
            return [PREFIX + ":" + os.path.basename(p) for p in mini_batch]
    """))
    ParallelRunConfig(environment=Environment("prs-yaml"), entry_script="score.py",
                      error_threshold=-1, output_action="append_row", compute_target="cpu-cluster",
                      node_count=1, process_count_per_node=2, mini_batch_size="2",
                      source_directory="src").save_to_yaml(str(folder / "prs.yml"))
    (folder / "pipeline.yml").write_text(textwrap.dedent("""
        pipeline:
          data_references:
            docs: {dataset_name: docs}
          steps:
            score:
              type: ParallelRunStep
              name: scorer
              parallel_run_config: prs.yml
              arguments: [--prefix, seen]
              inputs:
                docs_in: {source: docs}
              outputs:
                scores: {destination: scores_out}
    """))
    monkeypatch.chdir(folder)
    pipeline = Pipeline.load_yaml(workspace, "pipeline.yml")
    step = pipeline._steps[0]
    assert isinstance(step, ParallelRunStep) and step.name == "scorer"
    run = pipeline.submit("yaml-prs")
    assert run.wait_for_completion(show_output=False) == "Finished"
    out = run.find_step_run("scorer")[0].get_output_data("scores_out")
    assert out.download(str(tmp_path / "got"), show_progress=False) == 1
    lines = (tmp_path / "got" / out.path_on_datastore / "parallel_run_step.txt").read_text().split()
    assert sorted(lines) == ["seen:d0.txt", "seen:d1.txt", "seen:d2.txt"]


def test_deprecated_spellings_are_read_with_warnings(workspace, tmp_path, caplog):
    from amlocal.pipeline.core import Pipeline
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("print(1)\n")
    (tmp_path / "p.yml").write_text(textwrap.dedent("""
        pipeline:
          name: old style
          steps:
            first:
              python_script_step:
                script_name: a.py
                source_directory: src
                version: 2
              outputs:
                o: {destination: out, type: upload, path_on_compute: outputs/o}
            second:
              type: PythonScriptStep
              script_name: a.py
              source_directory: src
              inputs:
                i: {source: out, type: download}
    """))
    with caplog.at_level("WARNING"):
        pipeline = Pipeline.load_yaml(workspace, str(tmp_path / "p.yml"))
    assert "name is being deprecated" in caplog.text
    assert "python_script_step is being deprecated" in caplog.text
    assert "Output yaml parameter type is being deprecated" in caplog.text
    assert "Input yaml parameter type is being deprecated" in caplog.text
    first, second = pipeline._steps
    assert pipeline._description == "old style" and first.version == "2"
    assert first.outputs[0].output_mode == "upload" and second.inputs[0].bind_mode == "download"
    assert pipeline.validate() == []
