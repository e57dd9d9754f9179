"""`amlocal model list|show|download` on models registered with Model.register, and
`amlocal env list|show|base` on registered environments (nothing here needs Docker)."""
from __future__ import annotations

import json

import pytest


WS = ["-w", "modws", "-g", "modrg"]


@pytest.fixture
def amlocal(amlocal):
    """The CLI, with this module's workspace created."""
    assert amlocal("workspace", "create", *WS).exit_code == 0
    return amlocal


@pytest.fixture
def ws(amlocal):
    from amlocal.core.workspace import Workspace
    return Workspace.get("modws", resource_group="modrg")


@pytest.fixture
def models(ws, tmp_path):
    """churn v1 and v2 (files), scaler v1 (a folder)."""
    from amlocal.core.model import Model
    (tmp_path / "churn.pkl").write_bytes(b"version-one")
    Model.register(ws, str(tmp_path / "churn.pkl"), "churn", tags={"stage": "dev"},
                   description="first try")
    (tmp_path / "churn.pkl").write_bytes(b"version-two")
    Model.register(ws, str(tmp_path / "churn.pkl"), "churn", tags={"stage": "prod"},
                   model_framework="ScikitLearn", model_framework_version="1.4")
    folder = tmp_path / "scaler"
    folder.mkdir()
    (folder / "params.json").write_text('{"mean": 0}')
    Model.register(ws, str(folder), "scaler")


def test_model_list(amlocal, models):
    every = json.loads(amlocal("model", "list", *WS, "-o", "json").stdout)
    assert sorted((m["name"], m["version"]) for m in every) == [("churn", 1), ("churn", 2), ("scaler", 1)]
    churn = json.loads(amlocal("model", "list", "-n", "churn", *WS, "-o", "json").stdout)
    assert [m["id"] for m in churn] == ["churn:2", "churn:1"]
    latest = json.loads(amlocal("model", "list", "--latest", *WS, "-o", "json").stdout)
    assert sorted(m["id"] for m in latest) == ["churn:2", "scaler:1"]
    table = amlocal("model", "list", *WS).stdout
    assert any(line.split()[:2] == ["churn", "2"] and "stage=prod" in line for line in table.splitlines())
    none = amlocal("model", "list", "-n", "ghost", *WS)
    assert none.exit_code == 0 and "No models named 'ghost'" in none.stdout


def test_model_show(amlocal, models):
    latest = json.loads(amlocal("model", "show", "churn", *WS, "-o", "json").stdout)
    assert latest["version"] == 2 and latest["tags"] == {"stage": "prod"}
    assert latest["framework"] == "ScikitLearn" and latest["frameworkVersion"] == "1.4"
    first = json.loads(amlocal("model", "show", "churn", "--version", "1", *WS, "-o", "json").stdout)
    assert first["description"] == "first try" and first["id"] == "churn:1"
    table = amlocal("model", "show", "churn", *WS).stdout
    assert "churn:2" in table and "ScikitLearn 1.4" in table and "stage" in table
    missing = amlocal("model", "show", "churn", "--version", "9", *WS)
    assert missing.exit_code == 1 and "ModelNotFound" in missing.stderr
    assert "Traceback" not in missing.output


def test_model_download(amlocal, models, tmp_path):
    target = tmp_path / "out"
    got = amlocal("model", "download", "churn", "--version", "1", "-t", str(target), *WS)
    assert got.exit_code == 0, got.output
    assert (target / "churn.pkl").read_bytes() == b"version-one"
    assert got.stdout.strip() == str(target / "churn.pkl")

    again = amlocal("model", "download", "churn", "-t", str(target), *WS)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert (target / "churn.pkl").read_bytes() == b"version-one"
    forced = amlocal("model", "download", "churn", "-t", str(target), "--overwrite", *WS)
    assert forced.exit_code == 0
    assert (target / "churn.pkl").read_bytes() == b"version-two"

    folder = amlocal("model", "download", "scaler", "-t", str(target), *WS)
    assert folder.exit_code == 0
    assert json.loads((target / "scaler" / "params.json").read_text()) == {"mean": 0}


def test_env_list_and_show(amlocal, ws):
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.environment import Environment
    empty = amlocal("env", "list", *WS)
    assert empty.exit_code == 0 and "No registered environments" in empty.stdout

    env = Environment("train-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["pandas==2.2.2", "scikit-learn"], python_version="3.11")
    env.environment_variables = {"MODE": "fast"}
    env.register(ws)
    env.python.conda_dependencies.add_pip_package("pyarrow")
    env.register(ws)  # changed: version 2

    listed = json.loads(amlocal("env", "list", *WS, "-o", "json").stdout)
    assert [(e["name"], e["version"]) for e in listed] == [("train-env", "2")]
    assert "pyarrow" in listed[0]["pipPackages"] and listed[0]["python"] == "3.11"

    first = json.loads(amlocal("env", "show", "train-env", "--version", "1", *WS, "-o", "json").stdout)
    assert first["version"] == "1" and first["environmentVariables"] == {"MODE": "fast"}
    pip = first["python"]["condaDependencies"]["dependencies"][-1]["pip"]
    assert "pyarrow" not in pip and "pandas==2.2.2" in pip

    table = amlocal("env", "show", "train-env", *WS).stdout
    assert "pyarrow" in table and "MODE" in table and "3.11" in table
    missing = amlocal("env", "show", "train-env", "--version", "7", *WS)
    assert missing.exit_code == 1 and "its versions are 1, 2" in missing.stderr


def test_env_base_with_override_and_no_engine(amlocal, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("AMLOCAL_BASE_IMAGE", "registry.local/python:3.12-slim")
    shown = amlocal("env", "base", "-o", "json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["image"] == "registry.local/python:3.12-slim"
    assert data["source"] == "AMLOCAL_BASE_IMAGE" and data["present"] is False

    monkeypatch.delenv("AMLOCAL_BASE_IMAGE")
    no_engine = amlocal("env", "base")
    assert no_engine.exit_code == 1
    assert no_engine.stderr.startswith("Error: No Docker engine is answering")
    build = amlocal("env", "build", "nosuch", *WS)
    assert build.exit_code == 1 and "no environment named 'nosuch'" in build.stderr
