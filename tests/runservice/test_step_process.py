"""A step in a REAL separate process: the environment a runner gives a step, no SQLite access,
``Workspace(...)`` and ``Model.register(...)`` going through the run service."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from amlocal.runservice import RunService
from amlocal.store.entities import RunInfo

STEP_SCRIPT = textwrap.dedent("""
    import json, sys
    from amlocal.core.workspace import Workspace
    from amlocal.core.model import Model
    from amlocal import _context

    ws = Workspace("sub", "rg", "ws1")
    model = Model.register(ws, "model.pkl", "stepmodel", tags={"by": "step"})
    path = Model.get_model_path("stepmodel")
    print(json.dumps({
        "store": type(_context.current_store()).__name__,
        "id": model.id, "run_id": model.run_id, "path": path, "content": open(path).read(),
        "sqlalchemy_loaded": "sqlalchemy" in sys.modules,
    }))
""")


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    for var in ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE"):
        monkeypatch.delenv(var, raising=False)
    from amlocal.core.workspace import Workspace
    ws = Workspace("sub", "rg", "ws1")
    ws._store.create_run(RunInfo(id="step-run-1", workspace_id=ws._id, experiment="exp",
                                 kind="step"))
    folder = tempfile.mkdtemp(prefix="amlrs-", dir="/tmp")
    with RunService(ws._store, socket_path=os.path.join(folder, "run.sock")) as service:
        yield ws, service
    shutil.rmtree(folder, ignore_errors=True)


def _step_env(service, token: str, home) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AMLOCAL_", "AZUREML_"))}
    env.update({
        "AZUREML_RUN_ID": "step-run-1", "AZUREML_RUN_TOKEN": token,
        "AMLOCAL_RUN_SERVICE": service.url, "AZUREML_ARM_SUBSCRIPTION": "sub",
        "AZUREML_ARM_RESOURCEGROUP": "rg", "AZUREML_ARM_WORKSPACE_NAME": "ws1",
        "AZUREML_ARM_PROJECT_NAME": "exp",
        # a home the step must never touch: everything goes through the service
        "AMLOCAL_HOME": str(home),
    })
    return env


def test_step_process_registers_a_model_through_the_service(host, tmp_path):
    ws, service = host
    workdir = tmp_path / "wd"
    workdir.mkdir()
    (workdir / "model.pkl").write_text("trained weights")
    step_home = tmp_path / "step-home-never-created"

    done = subprocess.run([sys.executable, "-c", STEP_SCRIPT], cwd=workdir, capture_output=True,
                          text=True, timeout=120,
                          env=_step_env(service, service.grant("step-run-1"), step_home))
    assert done.returncode == 0, done.stderr
    assert "Registering model stepmodel" in done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["store"] == "RemoteStore"
    assert result["id"] == "stepmodel:1" and result["run_id"] == "step-run-1"
    assert result["path"] == os.path.join("azureml-models", "stepmodel", "1", "model.pkl")
    assert result["content"] == "trained weights"
    assert result["sqlalchemy_loaded"] is False
    assert not step_home.exists()

    # the host's store sees what the step registered
    info = ws._store.get_model(ws._id, "stepmodel")
    assert (info.version, info.run_id, info.tags) == (1, "step-run-1", {"by": "step"})
    assert (workdir / "azureml-models" / "stepmodel" / "1" / "model.pkl").read_text() == \
        "trained weights"


def test_step_process_with_a_wrong_token_is_refused(host, tmp_path):
    ws, service = host
    workdir = tmp_path / "wd"
    workdir.mkdir()
    (workdir / "model.pkl").write_text("w")
    done = subprocess.run([sys.executable, "-c", STEP_SCRIPT], cwd=workdir, capture_output=True,
                          text=True, timeout=120,
                          env=_step_env(service, "not-a-granted-token", tmp_path / "h"))
    assert done.returncode != 0
    assert "UserErrorException" in done.stderr
    assert "token is missing, unknown or revoked" in done.stderr
    assert ws._store.list_models(ws._id) == []
