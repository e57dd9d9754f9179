"""Metrics a step logged are never lost silently: a step process (the real entry command, in a
separate process) whose run service stops answering before its metrics are written reports them
in its log and exits non-zero."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

from amlocal.runservice import RunService
from amlocal.store.entities import RunInfo

SCRIPT = textwrap.dedent("""
    import os, time
    from azureml.core import Run
    run = Run.get_context()
    print("READY", run.id, flush=True)
    while not os.path.exists("go"):  # the test stops the run service meanwhile
        time.sleep(0.05)
    run.log("lost", 1)
    print("script done", flush=True)
""")


def test_metrics_the_service_never_received_fail_the_step(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    for var in ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE"):
        monkeypatch.delenv(var, raising=False)
    from amlocal.core.workspace import Workspace
    ws = Workspace("sub", "rg", "ws1")
    ws._store.create_run(RunInfo(id="step-1", workspace_id=ws._id, experiment="exp", kind="step"))
    workdir = tmp_path / "wd"
    workdir.mkdir()
    (workdir / "step.py").write_text(SCRIPT)
    folder = tempfile.mkdtemp(prefix="amlrs-", dir="/tmp")
    service = RunService(ws._store, socket_path=os.path.join(folder, "run.sock")).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AMLOCAL_", "AZUREML_"))}
        env.update({"AZUREML_RUN_ID": "step-1", "AZUREML_RUN_TOKEN": service.grant("step-1"),
                    "AMLOCAL_RUN_SERVICE": service.url, "AZUREML_ARM_SUBSCRIPTION": "sub",
                    "AZUREML_ARM_RESOURCEGROUP": "rg", "AZUREML_ARM_WORKSPACE_NAME": "ws1",
                    "AZUREML_ARM_PROJECT_NAME": "exp", "AMLOCAL_HOME": str(tmp_path / "never")})
        step = subprocess.Popen([sys.executable, "-m", "amlocal._runtime.entry", "step.py"],
                                cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert step.stdout.readline().startswith("READY step-1")
        service.stop()
        (workdir / "go").write_text("")
        out, err = step.communicate(timeout=120)
    finally:
        service.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert "script done" in out
    assert step.returncode == 1, err
    assert "1 metric value(s) logged to run step-1 could not be written" in err
    assert "does not answer" in err  # the reason: the service is gone
    assert "the step fails because metrics it logged were not written" in err
    assert ws._store.get_metric_records("step-1") == []
