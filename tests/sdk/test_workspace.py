"""Workspace: created on first use, found by config, listed and looked up by name."""
import json
import sqlite3

import pytest

from amlocal.errors import NotFoundError, UserErrorException

SUB = "00000000-0000-0000-0000-000000000000"


def test_first_use_creates_the_workspace_with_a_notice(home, capsys):
    from amlocal.core import Workspace
    ws = Workspace(SUB, "rg1", "aml")
    assert "created local workspace 'aml'" in capsys.readouterr().err
    again = Workspace(SUB, "rg1", "aml")
    assert again == ws
    assert capsys.readouterr().err == ""
    assert (home / "amlocal.db").is_file()
    assert ws.get_default_datastore().name == "workspaceblobstore"
    assert set(ws.datastores) == {"workspaceblobstore"}


def test_invalid_name_is_refused(home):
    from amlocal.core import Workspace
    with pytest.raises(UserErrorException, match="not valid"):
        Workspace(SUB, "rg", "a b")


def test_create_exist_ok_and_get(home):
    from amlocal.core import Workspace
    ws = Workspace.create("proj", subscription_id=SUB, resource_group="rg", show_output=False)
    with pytest.raises(UserErrorException, match="exist_ok=True"):
        Workspace.create("proj", subscription_id=SUB, resource_group="rg")
    assert Workspace.create("proj", subscription_id=SUB, resource_group="rg", exist_ok=True) == ws
    assert Workspace.get("proj") == ws
    with pytest.raises(NotFoundError, match="Known workspaces: proj"):
        Workspace.get("other")
    Workspace.create("proj", subscription_id=SUB, resource_group="rg2", show_output=False)
    with pytest.raises(UserErrorException, match="ambiguous"):
        Workspace.get("proj")
    assert Workspace.get("proj", resource_group="rg2").resource_group == "rg2"
    assert {w.resource_group for w in Workspace.list()["proj"]} == {"rg", "rg2"}


def test_write_config_and_from_config_walks_up(home, tmp_path, monkeypatch):
    from amlocal.core import Workspace
    ws = Workspace(SUB, "rg", "cfgws")
    path = ws.write_config(path=str(tmp_path))
    data = json.loads(path.read_text())
    assert data["Scope"].endswith("/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/cfgws")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert Workspace.from_config() == ws
    (tmp_path / "plain.json").write_text(json.dumps(
        {"subscription_id": SUB, "resource_group": "rg", "workspace_name": "cfgws"}))
    assert Workspace.from_config(str(tmp_path / "plain.json")) == ws


def test_from_config_missing_says_how_to_fix(home, tmp_path):
    from amlocal.core import Workspace
    with pytest.raises(UserErrorException, match="write_config"):
        Workspace.from_config(str(tmp_path))


def test_auth_classes_need_no_cloud(home):
    from amlocal.core import Workspace
    from amlocal.core.authentication import (InteractiveLoginAuthentication,
                                             ServicePrincipalAuthentication)
    sp = ServicePrincipalAuthentication("tenant", "app", "s3cret")
    assert "s3cret" not in repr(sp)
    ws = Workspace(SUB, "rg", "authws", auth=sp)
    assert ws.name == "authws"
    assert InteractiveLoginAuthentication().get_authentication_header()["Authorization"].startswith("Bearer")


def test_store_has_a_schema_version_and_uses_wal(home, workspace):
    db = sqlite3.connect(home / "amlocal.db")
    from amlocal.store.sql import HEAD_REVISION
    assert db.execute("select version_num from alembic_version").fetchone() == (HEAD_REVISION,)
    assert db.execute("pragma journal_mode").fetchone() == ("wal",)


def test_experiment_runs_and_metrics_shapes(workspace):
    from amlocal.core import Experiment
    exp = Experiment(workspace, "shapes")
    run = exp.start_logging()
    run.log("acc", 0.5)
    run.log("loss", 1.0)
    run.log("loss", 0.5)
    run.log_list("curve", [1, 2, 3])
    run.log_row("row1", a=1, b=2)
    run.log_row("rows", a=1)
    run.log_row("rows", a=2)
    run.log_table("table", {"x": [1, 2], "y": [3, 4]})
    metrics = run.get_metrics()
    assert metrics["acc"] == 0.5
    assert metrics["loss"] == [1.0, 0.5]
    assert metrics["curve"] == [1, 2, 3]
    assert metrics["row1"] == {"a": 1, "b": 2}
    assert metrics["rows"] == {"a": [1, 2]}
    assert metrics["table"] == {"x": [1, 2], "y": [3, 4]}
    assert run.get_metrics("acc") == {"acc": 0.5}
    with pytest.raises(UserErrorException, match="log_list"):
        run.log("bad", [1, 2])
    run.tag("k", "v")
    run.set_tags({"k2": 2})
    assert run.get_tags() == {"k": "v", "k2": "2"}
    run.add_properties({"p": "1"})
    with pytest.raises(UserErrorException, match="cannot be changed"):
        run.add_properties({"p": "2"})
    run.complete()
    assert run.get_status() == "Completed"
    assert [r.id for r in exp.get_runs()] == [run.id]
    assert workspace.get_run(run.id).id == run.id


def test_many_log_calls_are_batched(workspace):
    from amlocal.core import Experiment
    run = Experiment(workspace, "batched").start_logging()
    calls = []
    original = run._store.log_metrics
    run._store.log_metrics = lambda run_id, records: (calls.append(len(records)), original(run_id, records))
    for i in range(10_000):
        run.log("i", i)
    assert len(run.get_metrics()["i"]) == 10_000
    assert len(calls) <= 10, calls


def test_offline_run_outside_a_job(home, capsys):
    from amlocal.core import Run
    from amlocal.errors import RunEnvironmentException
    run = Run.get_context()
    assert run.id.startswith("OfflineRun_")
    run.log("acc", 0.9)
    assert "Attempted to log scalar metric acc:\n0.9" in capsys.readouterr().out
    assert not hasattr(run, "experiment")
    with pytest.raises(RunEnvironmentException):
        Run.get_context(allow_offline=False)


def test_copies_of_configurations_share_the_workspace(workspace, tmp_path):
    """azureml deep-copies run configurations and ScriptRunConfig arguments; a workspace (and
    its store) is a handle they share."""
    import copy
    from amlocal.core import Dataset, Datastore
    (tmp_path / "a.csv").write_text("x\n1\n")
    store = Datastore.register(workspace, "files", tmp_path.as_uri())
    config = {"input": Dataset.File.from_files((store, "a.csv")).as_named_input("a").as_mount()}
    copied = copy.deepcopy(config)
    assert copy.deepcopy(workspace) is workspace and copy.copy(workspace) is workspace
    assert copied["input"] is not config["input"]
    assert copied["input"].dataset._workspace is workspace
