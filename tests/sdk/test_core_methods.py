"""The rarer methods of Experiment, Workspace, Model, InferenceConfig, Environment,
CondaDependencies, RunConfiguration and the authentication classes, as v1 programs call them.
A real store in a fresh AMLOCAL_HOME; environment builds use the real Docker engine."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from amlocal._cloud_only import CloudOnlyError
from amlocal.errors import UserErrorException, WebserviceException


# --- the store's migration for experiment tags, archive state, model dataset references -----
def test_upgrade_from_0002_keeps_experiments_and_models(tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    import amlocal.store.sql as sql
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(sql.__file__).parent / "migrations"))
    with sa.create_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(sa.text("insert into experiments (workspace_id, name, created_at) values "
                             "('w', 'old-exp', '2026-01-01T00:00:00.000000Z')"))
        conn.execute(sa.text(
            "insert into models (workspace_id, name, version, path, tags, properties, created_at) "
            "values ('w', 'old-model', 1, 'm.pkl', '{}', '{}', '2026-01-01T00:00:00.000000Z')"))
    store = sql.SqlStore(url, tmp_path / "artifacts", tmp_path / "models")
    old = store.get_experiment("w", "old-exp")
    assert old.tags == {} and old.archived_time is None
    assert store.update_experiment("w", "old-exp", set_tags={"a": "1"}, archived=True).tags == {"a": "1"}
    assert store.get_model("w", "old-model").datasets == []
    updated = store.update_model("w", "old-model", 1, add_tags={"t": "1"},
                                 add_datasets=[{"scenario": "s", "id": "i"}])
    assert updated.tags == {"t": "1"} and updated.datasets == [{"scenario": "s", "id": "i"}]


# --- Experiment ------------------------------------------------------------------------------
def test_experiment_tags_archive_reactivate_and_list(workspace):
    from amlocal.core import Experiment
    from amlocal.core.experiment import ViewType
    exp = Experiment(workspace, "tagged")
    assert exp.tags == {} and exp.archived_time is None
    exp.tag("stage")
    exp.tag("owner", "ana")
    exp.set_tags({"team": "ml", "owner": "bo"})
    assert exp.tags == {"stage": None, "owner": "bo", "team": "ml"}
    exp.remove_tags(["stage"])
    again = Experiment(workspace, "tagged")        # read back from the store
    assert again.tags == {"owner": "bo", "team": "ml"}
    with pytest.raises(UserErrorException, match="list of tag keys"):
        exp.remove_tags("team")

    Experiment(workspace, "other")
    exp.archive()
    assert exp.archived_time is not None
    assert [e.name for e in Experiment.list(workspace)] == ["other"]
    assert [e.name for e in Experiment.list(workspace, view_type=ViewType.ArchivedOnly)] == ["tagged"]
    assert [e.name for e in Experiment.list(workspace, view_type=ViewType.All)] == ["other", "tagged"]
    assert [e.name for e in Experiment.list(workspace, view_type=ViewType.All,
                                            tags={"team": "ml"})] == ["tagged"]
    assert sorted(workspace.experiments) == ["other"]   # active ones, as Azure's property
    again.refresh()
    assert again.archived_time == exp.archived_time
    with pytest.raises(UserErrorException, match="Cannot rename"):
        exp.reactivate(new_name="x")
    exp.reactivate()
    assert exp.archived_time is None
    assert [e.name for e in Experiment.list(workspace)] == ["other", "tagged"]
    assert Experiment.get_docs_url() == ("https://docs.microsoft.com/en-us/python/api/azureml-core/"
                                         "azureml.core.experiment.Experiment?view=azure-ml-py")


def test_experiment_delete_removes_its_runs_and_refuses_while_one_runs(workspace, home):
    from amlocal.core import Experiment, Run
    exp = Experiment(workspace, "doomed")
    done = exp.start_logging(snapshot_directory=None)
    done.log("m", 1)
    done.upload_file("outputs/a.txt", __file__)
    done.complete()
    running = exp.start_logging(snapshot_directory=None)
    keep = Experiment(workspace, "kept").start_logging(snapshot_directory=None)
    with pytest.raises(UserErrorException, match=f"not finished.*{running.id}"):
        Experiment.delete(workspace, exp.id)
    running.cancel()
    Experiment.delete(workspace, exp.id)
    assert "doomed" not in {e.name for e in Experiment.list(workspace, view_type="All")}
    assert workspace._store.get_run(done.id) is None
    assert workspace._store.get_metric_records(done.id) == []
    assert not (home / "artifacts" / done.id).exists()
    assert Run.get(workspace, keep.id).status == "Running"   # other experiments untouched
    with pytest.raises(UserErrorException, match="no experiment with id"):
        Experiment.delete(workspace, "doomed")
    with pytest.raises(UserErrorException, match="no longer exists"):
        exp.refresh()


def test_experiment_from_directory(workspace, tmp_path):
    from amlocal.core import Experiment
    project = tmp_path / "my-project"
    project.mkdir()
    workspace.write_config(path=str(project))
    exp = Experiment.from_directory(str(project))
    assert exp.name == "my-project" and exp.workspace == workspace


# --- Workspace -------------------------------------------------------------------------------
def test_workspace_default_compute_target_setup_and_cloud_only(workspace, tmp_path, monkeypatch):
    from amlocal.core import ComputeTarget, Workspace
    from amlocal.core.compute import AmlCompute
    assert workspace.get_default_compute_target("CPU") is None
    ComputeTarget.create(workspace, "cpu-cluster", AmlCompute.provisioning_configuration())
    assert workspace.get_default_compute_target("cpu").name == "cpu-cluster"
    assert workspace.get_default_compute_target("GPU") is None
    with pytest.raises(ValueError, match="CPU and GPU"):
        workspace.get_default_compute_target("tpu")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserErrorException, match="could not find config.json"):
        Workspace.setup()
    workspace.write_config()
    assert Workspace.setup() == workspace
    uri = workspace.get_mlflow_tracking_uri()   # on the home's studio server, Azure's shape
    assert uri.startswith("http://127.0.0.1:") and uri.endswith(
        "/mlflow/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/test-rg"
        "/providers/Microsoft.MachineLearningServices/workspaces/testws")
    for name in ("list_keys", "sync_keys", "get_default_keyvault", "update", "list_connections"):
        with pytest.raises(CloudOnlyError, match=name):
            getattr(workspace, name)()


def test_workspace_delete(workspace, home):
    from amlocal import _settings
    from amlocal.core import Experiment, Workspace
    from amlocal.errors import NotFoundError
    run = Experiment(workspace, "e").start_logging(snapshot_directory=None)
    run.upload_file("outputs/m.txt", __file__)
    with pytest.raises(UserErrorException, match="not finished"):
        workspace.delete()
    run.complete()
    model = run.register_model("m", "outputs/m.txt")
    store_folder = _settings.current().datastores / workspace._id
    other = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "otherws")
    Experiment(other, "e2")
    workspace.delete()
    with pytest.raises(NotFoundError):
        Workspace.get("testws")
    assert workspace._store.get_run(run.id) is None
    assert workspace._store.get_model(workspace._id, model.name) is None
    assert not (home / "artifacts" / run.id).exists()
    assert store_folder.exists()          # storage is kept by default, as on Azure
    assert "e2" in other.experiments
    other.delete(delete_dependent_resources=True)
    assert not (_settings.current().datastores / other._id).exists()


# --- Model and InferenceConfig ---------------------------------------------------------------
def test_model_tags_properties_and_dataset_references(workspace, tmp_path, monkeypatch, capsys):
    from amlocal.core import Dataset, Model
    monkeypatch.chdir(tmp_path)
    Path("model.pkl").write_text("x")
    Path("data.csv").write_text("a,b\n1,2\n")
    model = Model.register(workspace, "model.pkl", "m", tags={"a": "1"}, properties={"p": "1"})
    model.update_tags_properties(add_tags={"a": "2", "b": "x"}, remove_tags=["nope"],
                                 add_properties={"q": "2"})
    out = capsys.readouterr().out
    assert "Replacing tag a -> 1 with a -> 2" in out and "Tag with key nope not found." in out
    model.remove_tags(["b"])
    model.add_properties({"r": "3"})
    read = Model(workspace, "m")
    assert read.tags == {"a": "2"} and read.properties == {"p": "1", "q": "2", "r": "3"}
    with pytest.raises(WebserviceException, match="immutable"):
        read.add_properties({"p": "changed"})

    datastore = workspace.get_default_datastore()
    datastore.upload_files(["data.csv"], target_path="d", overwrite=True, show_progress=False)
    ds = Dataset.Tabular.from_delimited_files(path=(datastore, "d/data.csv"))
    read.add_dataset_references([("training", ds)])
    again = Model(workspace, "m", version=1)
    assert list(again.datasets) == ["training"]
    assert again.datasets["training"][0].to_pandas_dataframe().to_dict("list") == {"a": [1], "b": [2]}
    assert again.serialize()["datasets"] == [{"name": "training", "id": ds.id}]
    with pytest.raises(WebserviceException, match="scenario name, Dataset"):
        again.add_dataset_references([ds])
    second = Model.register(workspace, "model.pkl", "m", datasets=[("validation", ds)])
    assert list(Model(workspace, "m", version=second.version).datasets) == ["validation"]
    with pytest.raises(CloudOnlyError, match="package"):
        Model.package(workspace, [read])
    with pytest.raises(CloudOnlyError, match="get_sas_urls"):
        read.get_sas_urls()


def test_inference_config_validation_and_print_configuration(workspace, tmp_path, capsys):
    from amlocal.core import Environment
    from amlocal.core.model import InferenceConfig, Model
    src = tmp_path / "src"
    src.mkdir()
    (src / "score.py").write_text("def init():\n    pass\n\ndef run(data):\n    return data\n")
    (src / "broken.py").write_text("def init(:\n")
    (src / "my-score.py").write_text("x = 1\n")
    env = Environment("serve")
    InferenceConfig("score.py", source_directory=str(src), environment=env).validate_configuration()
    with pytest.raises(UserErrorException, match="invalid syntax|was never closed|Please check it"):
        InferenceConfig("broken.py", source_directory=str(src)).validate_configuration()
    with pytest.raises(WebserviceException, match="cannot be found"):
        InferenceConfig("missing.py", source_directory=str(src)).validate_configuration()
    with pytest.raises(WebserviceException, match="invalid name"):
        InferenceConfig("my-score.py", source_directory=str(src)).validate_configuration()
    with pytest.raises(WebserviceException, match="conda_file along with an environment"):
        InferenceConfig("score.py", source_directory=str(src), conda_file="env.yml",
                        environment=env).validate_configuration()
    with pytest.raises(CloudOnlyError):
        InferenceConfig("score.py").build_create_payload(workspace, "n", [])
    (tmp_path / "m.pkl").write_text("x")
    model = Model.register(workspace, str(tmp_path / "m.pkl"), "m")
    env.python.conda_dependencies.add_pip_package("scikit-learn")
    Model.print_configuration([model], InferenceConfig("score.py", source_directory=str(src),
                                                       environment=env), None, None)
    out = capsys.readouterr().out
    assert "Models: ['m:1']" in out and f"Entry script: {src / 'score.py'}" in out
    assert "Environment dependencies:" in out and "scikit-learn" in out


# --- CondaDependencies, RunConfiguration, authentication --------------------------------------
def test_conda_framework_helpers():
    from amlocal.core.conda_dependencies import CondaDependencies
    cd = CondaDependencies()
    cd.add_tensorflow_pip_package()
    assert "tensorflow==2.2.0" in list(cd.pip_packages)
    cd.add_tensorflow_pip_package(core_type="gpu", version="2.9")
    assert [p for p in cd.pip_packages if p.startswith("tensorflow")] == ["tensorflow-gpu==2.9"]
    cd.add_cntk_package("gpu")
    cd.add_cntk_package()
    assert [p for p in cd.pip_packages if p.startswith("cntk")] == ["cntk==2.7"]
    cd.add_tensorflow_conda_package(version="2.4")
    cd.add_tensorflow_conda_package()
    assert [p for p in cd.conda_packages if p.startswith("tensorflow")] == ["tensorflow=2.2.0"]
    with pytest.raises(UserErrorException, match="Only accept 'cpu' or 'gpu'"):
        cd.add_cntk_package("tpu")
    assert CondaDependencies().get_default_number_of_packages() == (1, 1)


def test_runconfig_delete_and_datacache(tmp_path):
    from amlocal.core.runconfig import DatacacheConfiguration, RunConfiguration
    rc = RunConfiguration()
    rc.save(str(tmp_path), name="train")
    legacy = tmp_path / "aml_config" / "train.runconfig"
    legacy.parent.mkdir()
    legacy.write_text("target: local\n")
    RunConfiguration.delete(str(tmp_path), "train")
    assert not (tmp_path / ".azureml" / "train.runconfig").exists() and not legacy.exists()
    with pytest.raises(UserErrorException, match="Run config train not found"):
        RunConfiguration.delete(str(tmp_path), "train")
    with pytest.raises(CloudOnlyError, match="as_named_input"):
        DatacacheConfiguration.create(None)
    rc.auto_prepare_environment = False               # deprecated and unused, as in azureml
    assert rc.auto_prepare_environment is True


def test_signed_session_persists_the_header():
    import requests
    from amlocal.core.authentication import InteractiveLoginAuthentication
    auth = InteractiveLoginAuthentication()
    session = auth.signed_session()
    assert isinstance(session, requests.Session)
    assert session.headers["Authorization"] == auth.get_authentication_header()["Authorization"]
    mine = requests.Session()
    assert auth.signed_session(mine) is mine and "Authorization" in mine.headers


# --- Environment ------------------------------------------------------------------------------
def test_environment_cloud_only_and_conda_export(workspace, monkeypatch, tmp_path):
    from amlocal.core import Environment
    with pytest.raises(CloudOnlyError, match="numbered versions"):
        Environment.label(workspace, "e", "1", ["prod"])
    with pytest.raises(CloudOnlyError, match="extra-index-url"):
        Environment.add_private_pip_wheel(workspace, "x.whl")
    monkeypatch.setenv("PATH", str(tmp_path))          # no conda executable on PATH
    with pytest.raises(UserErrorException, match="needs a conda executable"):
        Environment.from_existing_conda_environment("e", "base")
    fake = tmp_path / "conda"                            # one that answers, as conda does
    fake.write_text("#!/bin/sh\nif [ \"$5\" = base ]; then printf 'name: base\\nchannels:\\n"
                    "- conda-forge\\ndependencies:\\n- python=3.11\\n- numpy=1.26\\n"
                    "prefix: /opt/conda\\n'; else echo 'EnvironmentLocationNotFound' >&2; "
                    "exit 1; fi\n")
    fake.chmod(0o755)
    env = Environment.from_existing_conda_environment("exported", "base")
    assert env.name == "exported" and "numpy=1.26" in list(env.python.conda_dependencies.conda_packages)
    assert env.python.conda_dependencies.get_python_version() == "3.11"
    with pytest.raises(UserErrorException, match="EnvironmentLocationNotFound"):
        Environment.from_existing_conda_environment("e", "missing")


def test_environment_build_and_build_local(workspace, docker_engine, capsys):
    from amlocal.core import Environment
    env = Environment("built")
    env.python.user_managed_dependencies = True      # the base image as is: a quick build
    with pytest.raises(UserErrorException, match="is not registered"):
        env.build_local(workspace, useDocker=True)
    build = env.build(workspace)
    assert build.wait_for_completion(show_output=True) is build
    assert build.status == "Succeeded", build.get_log()
    out = capsys.readouterr().out
    assert "Image Build Status: Succeeded" in out and build.image in build.get_log()
    registered = Environment.get(workspace, "built")
    assert registered.version == "1"
    details = registered.get_image_details(workspace)
    assert details.image_exist and details.image == build.image
    assert details.interpreter_path == "/opt/amlocal/bin/python" and "FROM" in details.dockerfile
    registered.build_local(workspace, useDocker=True, pushImageToWorkspaceAcr=True)
    out = capsys.readouterr().out
    assert f"image {build.image} exists already" in out and "no container registry" in out
    with pytest.raises(UserErrorException, match="unknown arguments"):
        registered.build_local(workspace, useDocker=True, fast=True)
    host = Environment("on-host")
    host.python.user_managed_dependencies = True
    host.python.interpreter_path = sys.executable
    host = host.register(workspace)
    host.build_local(workspace)                      # no Docker: the host's interpreter
    assert "is ready on this machine (host)" in capsys.readouterr().out
    bad = Environment("bad")
    bad.python.conda_dependencies.add_pip_package("amlocal-no-such-package-xyz==0.0.1")
    failed = bad.build(workspace).wait_for_completion(show_output=False)
    assert failed.status == "Failed" and failed.error is not None
    assert "amlocal-no-such-package-xyz" in failed.get_log()
