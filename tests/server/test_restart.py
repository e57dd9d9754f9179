"""``kill -9`` of the studio server, then ``amlocal studio start``: nothing is lost. The keys made
before still let requests in, the run submitted while the server ran keeps running (its step
waits for a go-ahead tag set only after the restart, so it is surely still going when the server
dies) and settles Finished, and the new server answers on the same URL (handed-out endpoints stay
valid) with the run, its metrics, the published pipeline and a schedule."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

AMLOCAL = [sys.executable, "-m", "amlocal.cli"]
GATED_STEP = """
    import time
    from azureml.core import Run
    run = Run.get_context()
    run.log("before", 1)
    run.flush()
    deadline = time.monotonic() + 300
    while "go" not in run.parent.get_tags():
        if time.monotonic() > deadline:
            raise SystemExit("no go-ahead tag in 300 s")
        time.sleep(0.2)
    run.log("after", 2)
    print("went on after the restart")
"""


def amlocal(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*AMLOCAL, *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def _submit(ws, published, headers) -> str:
    """Through the published pipeline's REST endpoint when it is an http URL on the server,
    else in Python (the same submission path)."""
    if published.endpoint.startswith("http"):
        answer = httpx.post(published.endpoint, headers=headers, timeout=120,
                            json={"ExperimentName": "restart"})
        assert answer.status_code == 200, answer.text
        return answer.json()["Id"]
    return published.submit(ws, "restart").id


def test_kill_9_and_start_again_loses_nothing(workspace, tmp_path, monkeypatch):
    from amlocal.core import Run
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core.run import PipelineRun
    from amlocal.pipeline.core.schedule import Schedule, ScheduleRecurrence
    from amlocal.pipeline.steps import PythonScriptStep

    monkeypatch.delenv("AMLOCAL_STUDIO_PORT")
    port = _free_port()
    started = amlocal("studio", "start", "--port", str(port))
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    made = amlocal("studio", "keys", "create", "survivor")
    key = made.stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    status = amlocal("studio", "status", "-o", "json")
    first_pid = json.loads(status.stdout)["pid"]

    src = tmp_path / "src"
    src.mkdir()
    (src / "gated.py").write_text(textwrap.dedent(GATED_STEP))
    pipeline = Pipeline(workspace, [PythonScriptStep("gated.py", name="gated",
                                                     source_directory=str(src),
                                                     allow_reuse=False)])
    published = pipeline.publish(name="survives")
    # naive means UTC here; a month ahead, so it cannot fire during the test
    later = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) + timedelta(days=30)
    schedule = Schedule.create(workspace, "monthly", published.id, "scheduled",
                               recurrence=ScheduleRecurrence("Month", 1, start_time=later))
    run_id = _submit(workspace, published, headers)
    run = Run.get(workspace, run_id)
    assert isinstance(run, PipelineRun)
    deadline = time.monotonic() + 300
    while not any(s.get_metrics().get("before") for s in run.get_steps()):
        assert time.monotonic() < deadline, "the step did not start"
        assert run.get_status() not in ("Failed", "Canceled"), run.get_details()
        time.sleep(0.2)

    os.kill(first_pid, signal.SIGKILL)
    assert _dead(first_pid)
    assert amlocal("studio", "status").returncode == 1
    assert run.get_status() == "Running"  # the run does not depend on the server

    again = amlocal("studio", "start")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == url  # the same port: endpoints handed out stay valid
    second_pid = json.loads(amlocal("studio", "status", "-o", "json").stdout)["pid"]
    assert second_pid != first_pid

    assert httpx.get(f"{url}/api/v1/workspaces", headers=headers, timeout=30).status_code == 200
    answer = httpx.get(f"{url}/api/v1/runs/{run_id}", headers=headers, timeout=30).json()
    assert answer["status"] == "Running"
    assert [c["displayName"] for c in answer["children"]] == ["gated"]
    listed = httpx.get(f"{url}/api/v1/workspaces/{workspace._id}/pipelines", timeout=30).json()
    assert [p["id"] for p in listed] == [published.id]
    assert "survivor" in amlocal("studio", "keys", "list").stdout
    assert Schedule.get(workspace, schedule.id).status == "Active"
    assert httpx.get(f"{url}/api/v1/schedules/{schedule.id}", timeout=30).status_code == 200

    run.tag("go")
    assert run.wait_for_completion(show_output=False) == "Finished"
    step_id = run.find_step_run("gated")[0].id
    metrics = httpx.get(f"{url}/api/v1/runs/{step_id}/metrics", headers=headers, timeout=30)
    assert metrics.json()["metrics"] == {"before": 1, "after": 2}
    final = httpx.get(f"{url}/api/v1/runs/{run_id}", timeout=30).json()
    assert final["status"] == "Finished" and final["children"][0]["status"] == "Finished"
