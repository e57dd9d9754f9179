"""The quick paths of issue 11, with what they must not change: a run whose every step is
reused is recorded at submission (no runner, no container) exactly as the runner records it; a
warm runner host forks runners that behave like spawned ones (they survive the submitter, and a
killed one is settled)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from amlocal._status import PIPELINE_LOG

pytestmark = pytest.mark.usefixtures("docker_engine")


def _chain(workspace, src, extra=""):
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    (src / "w.py").write_text(
        "import os, sys\nout = sys.argv[sys.argv.index('--out') + 1]\n"
        "os.makedirs(out, exist_ok=True)\nopen(os.path.join(out, 'x.txt'), 'w').write('x')\n" + extra)
    a, b = PipelineData("a"), PipelineData("b")
    one = PythonScriptStep("w.py", name="one", source_directory=str(src), arguments=["--out", a],
                           outputs=[a])
    two = PythonScriptStep("w.py", name="two", source_directory=str(src),
                           arguments=["--in", a, "--out", b], inputs=[a], outputs=[b])
    return Pipeline(workspace, [one, two])


def test_an_unchanged_resubmit_is_recorded_at_submission_without_a_runner(workspace, tmp_path):
    from amlocal.core import Experiment
    pipeline = _chain(workspace, tmp_path)
    first = Experiment(workspace, "fast").submit(pipeline)
    assert first.wait_for_completion(show_output=False) == "Finished"
    again = Experiment(workspace, "fast").submit(pipeline)
    # terminal when submit() returns: nothing was left to run
    assert again.get_status() == "Finished"
    assert "amlocal.runner_pid" not in again.get_properties()
    earlier = {s.name: s for s in first.get_steps()}
    for step in again.get_steps():
        info = step._refresh()
        assert info.status == "Finished"
        assert info.reused_from == earlier[step.name].id
        assert info.definition["reuse"]["decision"] == "reused"
        assert info.definition["outputs"] == earlier[step.name]._refresh().definition["outputs"]
        props = step.get_properties()
        assert props["amlocal.recorded_by_runner"] == "true"
        assert props["amlocal.environment_digest"]
    log = again._store.read_artifact(again.id, PIPELINE_LOG).decode()
    assert "every step reused: recorded at submission" in log
    # a change to one step sends the run to a runner again
    changed = Experiment(workspace, "fast").submit(_chain(workspace, tmp_path, "# changed\n"))
    assert changed.wait_for_completion(show_output=False) == "Finished"
    assert "amlocal.runner_pid" in changed.get_properties()
    assert all(s._refresh().reused_from is None for s in changed.get_steps())


def _sleeper(workspace, src, seconds):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    (src / "sleep.py").write_text(f"import time\ntime.sleep({seconds})\n")
    return Pipeline(workspace, [PythonScriptStep("sleep.py", name="sleep", source_directory=str(src),
                                                 allow_reuse=False)])


def _parent(pid: int) -> int:
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rfind(")") + 2:].split()[1])


def test_a_warm_host_forks_runners_that_survive_and_settle(workspace, tmp_path):
    from amlocal._engine import runner_host
    from amlocal.core import Experiment
    pipeline = _sleeper(workspace, tmp_path, 0)
    Experiment(workspace, "host").submit(pipeline).wait_for_completion(show_output=False)
    deadline = time.monotonic() + 60
    while not runner_host.paths()[0].exists() and time.monotonic() < deadline:
        time.sleep(0.2)     # the first submission started a host for the next ones
    assert runner_host.paths()[0].exists()
    run = Experiment(workspace, "host").submit(_sleeper(workspace, tmp_path, 30))
    pid = int(run.get_properties()["amlocal.runner_pid"])
    host_log = runner_host.paths()[2].read_text()
    assert f"runner host {_parent(pid)} serving" in host_log     # forked by the host
    assert os.getsid(pid) == pid                                  # in a session of its own
    deadline = time.monotonic() + 60
    while run.get_status() != "Running" and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)          # the runner dies without its finally
    status = run.wait_for_completion(show_output=False, raise_on_error=False, timeout_seconds=60)
    assert status == "Failed"
    assert "runner process" in (run._refresh().error or {}).get("message", "")
    for step in run.get_steps():
        assert step._refresh().status in ("Failed", "Canceled")


def test_the_host_refuses_bad_requests(tmp_path):
    import json
    import socket
    from amlocal._engine import runner_host
    where = runner_host.paths()
    if where is None or not where[0].exists():
        pytest.skip("no runner host runs for this installation yet")   # made by the test above
    for bad in ({"run_id": "../x", "env": {"AMLOCAL_HOME": str(tmp_path)}, "cwd": "/"},
                {"run_id": "abc", "env": {"A": 1}, "cwd": "/"}, {"what": "else"}):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(where[0]))
            conn.sendall(json.dumps(bad).encode() + b"\n")
            reply = json.loads(conn.makefile("rb").readline())
        assert "bad request" in reply["error"]
