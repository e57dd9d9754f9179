"""DockerBackend.shell (an interactive shell where the step would run) and DockerBackend.serve
(a step kept running as a service) on the real engine, with the session's ``six`` image."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from amlocal.compute import Mount, StepSpec, get_backend, services
from amlocal.errors import ComputeTargetException

# Runs DockerBackend.shell in a child process whose stdin is a pipe (not a terminal): the shell
# reads its commands from there, as it would from a user's keyboard.
CHILD = r"""
import json, sys
from amlocal.compute import Mount, StepSpec, get_backend
from amlocal.compute.base import ResolvedEnvironment
env = ResolvedEnvironment.from_dict(json.loads(sys.argv[1]))
fields = json.loads(sys.argv[2])
fields["mounts"] = tuple(Mount(**m) for m in fields["mounts"])
fields["command"] = tuple(fields["command"])
sys.exit(get_backend("docker").shell(StepSpec(**fields), env))
"""

SHELL_INPUT = """\
echo "command=$AMLOCAL_STEP_COMMAND"
echo "probe=$PROBE"
echo "pwd=$(pwd)"
echo "uid=$(id -u)"
cat /amlocal/inputs/data.txt
touch /amlocal/inputs/new.txt 2>/dev/null && echo inputs-writable || echo inputs-read-only
echo written > /amlocal/wd/from-shell.txt
eval "$AMLOCAL_STEP_COMMAND"
exit 3
"""


def _shell(env, step_fields: dict, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, json.dumps(env.to_dict()),
                           json.dumps(step_fields)],
                          input=stdin, capture_output=True, text=True, timeout=120)


def _fields(step_dirs, **extra) -> dict:
    wd, inputs = step_dirs
    return {"run_id": f"test-{uuid.uuid4().hex[:12]}", "step_name": "probe",
            "command": ["python", "-c", "import six; print('step ran with six', six.__version__)"],
            "working_dir": str(wd),
            "mounts": [{"source": str(inputs), "target": "/amlocal/inputs", "read_only": True}],
            "env": {"PROBE": "a b 'quoted' $NOT_EXPANDED \"double\""},
            "labels": {}, **extra}


def test_shell_gets_what_the_step_gets(six_env, amlocal_home, docker_engine, step_dirs):
    wd, _ = step_dirs
    fields = _fields(step_dirs)
    done = _shell(six_env, fields, SHELL_INPUT)
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:6] == [
        "command=python -c 'import six; print('\"'\"'step ran with six'\"'\"', six.__version__)'",
        "probe=a b 'quoted' $NOT_EXPANDED \"double\"",
        "pwd=/amlocal/wd", f"uid={os.getuid()}", "hello from the host", "inputs-read-only"]
    assert lines[6].startswith("step ran with six ")
    assert (wd / "from-shell.txt").read_text() == "written\n"
    label = f"amlocal.run_id={fields['run_id']}"            # --rm: nothing left behind
    assert docker_engine.containers.list(all=True, filters={"label": label}) == []


def test_a_sandboxed_shell_is_sandboxed(six_env, amlocal_home, step_dirs):
    fields = _fields(step_dirs, sandbox={})
    probe = ("cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | tr '\\n' ,; echo\n"
             "touch /usr/x 2>/dev/null && echo root-writable || echo root-read-only\n"
             "id -u\n")
    done = _shell(six_env, fields, probe)
    assert done.returncode == 0, done.stderr
    interfaces, root, uid = done.stdout.splitlines()
    assert interfaces == "lo,"                              # no network
    assert root == "root-read-only"
    assert uid != "0"


def test_serve_answers_on_its_port_until_removed(six_env, amlocal_home, docker_engine,
                                                 step_dirs):
    wd, inputs = step_dirs
    labels = {"amlocal.webservice": f"svc-{uuid.uuid4().hex[:8]}"}
    step = StepSpec(run_id="serve-test", step_name="server", working_dir=str(wd), labels=labels,
                    command=("python", "-m", "http.server", "8000", "--bind", "0.0.0.0",
                             "--directory", "/amlocal/inputs"),
                    mounts=(Mount(str(inputs), "/amlocal/inputs"),))
    handle = get_backend("docker").serve(step, six_env, container_port=8000)
    try:
        assert isinstance(handle.host_port, int) and handle.host_port > 0   # a free port
        body, deadline = None, time.monotonic() + 30
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{handle.host_port}/data.txt",
                                            timeout=5) as answer:
                    body = answer.read().decode()
            except OSError:
                time.sleep(0.2)
        assert body == "hello from the host\n"
        (found,) = services.find_services(labels)
        assert (found["id"], found["port"], found["status"]) == (handle.id, handle.host_port,
                                                                 "running")
        assert found["labels"]["amlocal.run_id"] == "serve-test"
        assert "GET /data.txt" in services.service_logs(handle.id)
    finally:
        services.remove_service(handle.id)
    assert services.service_status(handle.id) == "removed"
    assert services.find_services(labels) == []


def test_a_sandboxed_service_without_network_cannot_publish_a_port(six_env, amlocal_home,
                                                                    docker_engine, step_dirs):
    wd, _ = step_dirs
    labels = {"amlocal.run_id": f"test-{uuid.uuid4().hex[:12]}"}
    step = StepSpec(run_id="r", step_name="worker", working_dir=str(wd), labels=labels,
                    command=("sleep", "30"), sandbox={})
    with pytest.raises(ComputeTargetException, match="cannot be published"):
        get_backend("docker").serve(step, six_env, container_port=8000)
    assert services.find_services(labels) == []
    handle = get_backend("docker").serve(step, six_env)    # served through a mount instead
    try:
        assert handle.host_port is None
        assert services.service_status(handle.id) == "running"
    finally:
        services.remove_service(handle.id)
