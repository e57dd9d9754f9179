"""The compute backend contract (:class:`amlocal.compute.ComputeBackend`), one set of tests run
against every backend: docker, local, host and ray. What needs a capability is tested where the
backend declares it, and where it does not, the backend must refuse it with a clear error; no
test looks at a backend's kind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from amlocal.compute import WORKDIR, Capability, Mount, StepSpec, kinds_with, require
from amlocal.errors import ComputeTargetException

# What a step sees, written for the container layout (/amlocal/...): every backend runs it as is.
PROBE = r"""
import json, os, sys
report = {"cwd": os.getcwd(), "argv": sys.argv[1:], "env": os.environ.get("PROBE"),
          "input": open("/amlocal/inputs/data.txt").read()}
try:
    open("/amlocal/inputs/new.txt", "w").write("x")
    report["inputs"] = "writable"
except OSError:
    report["inputs"] = "read-only"
open("/amlocal/out/result.txt", "w").write("from the step")
open("written-in-cwd.txt", "w").write("cwd")
report["real"] = [os.path.realpath(p) for p in (os.getcwd(), *sys.argv[2:3],
                                                 *os.environ.get("PROBE", "").split(":")) if p]
print("first line", flush=True)
print(json.dumps(report))
"""

SANDBOX_PROBE = r"""
import json, os
writable = {}
for folder in ("/usr", "/amlocal/wd", "/tmp"):
    try:
        with open(os.path.join(folder, "probe.txt"), "w") as f:
            f.write("x")
        writable[folder] = True
    except OSError:
        writable[folder] = False
interfaces = sorted(line.split(":")[0].strip()
                    for line in open("/proc/net/dev").read().splitlines()[2:])
print(json.dumps({"uid": os.getuid(), "writable": writable, "interfaces": interfaces}))
"""


def _step(tmp_path, command, **fields) -> StepSpec:
    wd = tmp_path / "wd"
    wd.mkdir(exist_ok=True)
    return StepSpec(**{"run_id": f"contract-{uuid.uuid4().hex[:12]}", "step_name": "probe",
                       "command": tuple(command), "working_dir": str(wd), **fields})


def _skip_without(prepared, capability: Capability) -> None:
    if capability not in prepared.backend.capabilities:
        pytest.skip(f"the {prepared.kind} backend has no {capability.value} capability")


def _assert_refused(exc: BaseException, capability: Capability, kind: str) -> None:
    message = str(exc)
    assert f"'{capability.value}'" in message and f"'{kind}' compute target cannot" in message
    for other in kinds_with(capability):                 # and says which target has it
        assert f"'{other}'" in message


# -- every backend --------------------------------------------------------------------------

def test_capabilities_are_declared(prepared):
    caps = prepared.backend.capabilities
    assert isinstance(caps, frozenset) and all(isinstance(c, Capability) for c in caps)
    for capability in Capability:
        if capability in caps:
            require(prepared.backend, capability, "this test")
        else:
            with pytest.raises(ComputeTargetException) as caught:
                require(prepared.backend, capability, "this test")
            assert str(caught.value).startswith("this test needs")
            _assert_refused(caught.value, capability, prepared.kind)


def test_a_command_runs_and_its_lines_and_status_come_back(prepared, tmp_path):
    step = _step(tmp_path, ["python", "-c", "import sys\nprint('one')\nprint('two', flush=True)\n"
                                            "print('to stderr', file=sys.stderr)"])
    handle = prepared.backend.submit(step, prepared.env)
    assert sorted(handle.lines()) == ["one", "to stderr", "two"]   # stdout and stderr merged
    assert handle.wait() == 0


def test_a_failing_command_returns_its_status(prepared, tmp_path):
    step = _step(tmp_path, ["python", "-c", "import sys; print('failing'); sys.exit(7)"])
    handle = prepared.backend.submit(step, prepared.env)
    assert list(handle.lines()) == ["failing"]
    assert handle.wait() == 7


def test_env_mounts_args_and_working_directory_are_what_the_step_sees(prepared, tmp_path):
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    (inputs / "data.txt").write_text("hello from the host\n")
    step = _step(tmp_path, ["python", "-c", PROBE, "--input", "/amlocal/inputs/data.txt"],
                 env={"PROBE": "/amlocal/inputs:/amlocal/wd"},
                 mounts=(Mount(str(inputs), "/amlocal/inputs", read_only=True),
                         Mount(str(out), "/amlocal/out", read_only=False)))
    handle = prepared.backend.submit(step, prepared.env)
    lines = list(handle.lines())
    assert handle.wait() == 0, lines
    assert lines[0] == "first line"
    report = json.loads(lines[-1])
    assert report["input"] == "hello from the host\n"
    assert (out / "result.txt").read_text() == "from the step"          # a writable mount
    assert (tmp_path / "wd" / "written-in-cwd.txt").read_text() == "cwd"  # cwd: working_dir
    # container paths in arguments and variables lead to the same places on every backend
    if Capability.CONTAINER in prepared.backend.capabilities:
        assert report["argv"] == ["--input", "/amlocal/inputs/data.txt"]
        assert report["env"] == "/amlocal/inputs:/amlocal/wd"
        assert report["real"] == [WORKDIR, "/amlocal/inputs/data.txt", "/amlocal/inputs", WORKDIR]
    else:                            # the container layout mapped onto this machine's folders
        wd = os.path.realpath(tmp_path / "wd")
        assert report["real"] == [wd, os.path.realpath(inputs / "data.txt"),
                                  os.path.realpath(inputs), wd]


def test_a_read_only_mount_cannot_be_written(prepared, tmp_path):
    # A process on this machine runs with the user's rights: only a container enforces it.
    _skip_without(prepared, Capability.CONTAINER)
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    (inputs / "data.txt").write_text("hello\n")
    step = _step(tmp_path, ["python", "-c", PROBE],
                 mounts=(Mount(str(inputs), "/amlocal/inputs", read_only=True),
                         Mount(str(out), "/amlocal/out", read_only=False)))
    handle = prepared.backend.submit(step, prepared.env)
    lines = list(handle.lines())
    assert handle.wait() == 0, lines
    assert json.loads(lines[-1])["inputs"] == "read-only"
    assert sorted(p.name for p in inputs.iterdir()) == ["data.txt"]


def test_cancel_stops_the_step(prepared, tmp_path):
    step = _step(tmp_path, ["python", "-c", "import time\nprint('started', flush=True)\n"
                                            "time.sleep(60)\nprint('not cancelled')"])
    handle = prepared.backend.submit(step, prepared.env)
    lines = handle.lines()
    assert next(lines) == "started"
    begun = time.monotonic()
    handle.cancel()
    assert handle.wait() != 0
    assert time.monotonic() - begun < 15
    assert "not cancelled" not in list(lines)


# -- sandbox --------------------------------------------------------------------------------

def test_a_sandboxed_step_is_cut_off(prepared, tmp_path):
    _skip_without(prepared, Capability.SANDBOX)
    step = _step(tmp_path, ["python", "-c", SANDBOX_PROBE], sandbox={})
    handle = prepared.backend.submit(step, prepared.env)
    lines = list(handle.lines())
    assert handle.wait() == 0, lines
    report = json.loads(lines[-1])
    assert report["interfaces"] == ["lo"]                           # no network
    assert report["writable"] == {"/usr": False, "/amlocal/wd": True, "/tmp": True}
    assert report["uid"] != 0


def test_a_backend_without_sandbox_refuses_a_sandboxed_step(prepared, tmp_path):
    if Capability.SANDBOX in prepared.backend.capabilities:
        pytest.skip(f"the {prepared.kind} backend has the sandbox capability")
    marker = tmp_path / "ran"
    step = _step(tmp_path, ["python", "-c", f"open({str(marker)!r}, 'w').write('x')"],
                 sandbox={})
    with pytest.raises(ComputeTargetException, match="sandbox"):
        prepared.backend.submit(step, prepared.env)
    assert not marker.exists()                                       # nothing started


# -- serve ----------------------------------------------------------------------------------

def test_a_served_step_answers_on_its_port(prepared, tmp_path):
    _skip_without(prepared, Capability.SERVE)
    from amlocal.compute import services
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.txt").write_text("served\n")
    step = _step(tmp_path, ["python", "-m", "http.server", "8000", "--bind", "0.0.0.0",
                            "--directory", "/amlocal/site"],
                 mounts=(Mount(str(site), "/amlocal/site"),))
    handle = prepared.backend.serve(step, prepared.env, container_port=8000)
    try:
        body, deadline = None, time.monotonic() + 30
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{handle.host_port}/index.txt",
                                            timeout=5) as answer:
                    body = answer.read().decode()
            except OSError:
                time.sleep(0.2)
        assert body == "served\n"
    finally:
        services.remove_service(handle.id)
    assert services.service_status(handle.id) == "removed"


def test_a_backend_without_serve_refuses_it(prepared, tmp_path):
    if Capability.SERVE in prepared.backend.capabilities:
        pytest.skip(f"the {prepared.kind} backend has the serve capability")
    step = _step(tmp_path, ["python", "-m", "http.server", "8000"])
    with pytest.raises(ComputeTargetException) as caught:
        prepared.backend.serve(step, prepared.env, container_port=8000)
    _assert_refused(caught.value, Capability.SERVE, prepared.kind)
    assert "serving step 'probe'" in str(caught.value)


# -- shell ----------------------------------------------------------------------------------

SHELL_CHILD = r"""
import json, sys
from amlocal.compute import Mount, StepSpec, get_backend
from amlocal.compute.base import ResolvedEnvironment
kind, env, fields = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
fields["command"] = tuple(fields["command"])
fields["mounts"] = tuple(Mount(**m) for m in fields["mounts"])
sys.exit(get_backend(kind).shell(StepSpec(**fields), ResolvedEnvironment.from_dict(env)))
"""


def test_a_shell_opens_where_the_step_would_run(prepared, tmp_path):
    _skip_without(prepared, Capability.SHELL)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "data.txt").write_text("hello from the host\n")
    step = _step(tmp_path, ["python", "-c", "print('the step itself')"],
                 env={"PROBE": "visible"}, mounts=(Mount(str(inputs), "/amlocal/inputs"),))
    fields = {**step.__dict__, "mounts": [m.__dict__ for m in step.mounts]}
    done = subprocess.run(
        [sys.executable, "-c", SHELL_CHILD, prepared.kind, json.dumps(prepared.env.to_dict()),
         json.dumps(fields)],
        input='echo "$PROBE"; cat /amlocal/inputs/data.txt; eval "$AMLOCAL_STEP_COMMAND"; '
              'exit 4\n', capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    assert done.stdout.splitlines() == ["visible", "hello from the host", "the step itself"]


def test_a_backend_without_shell_refuses_it(prepared, tmp_path):
    if Capability.SHELL in prepared.backend.capabilities:
        pytest.skip(f"the {prepared.kind} backend has the shell capability")
    step = _step(tmp_path, ["python", "-c", "print('x')"])
    with pytest.raises(ComputeTargetException) as caught:
        prepared.backend.shell(step, prepared.env)
    _assert_refused(caught.value, Capability.SHELL, prepared.kind)
    assert str(caught.value).startswith("a shell in step 'probe' needs")
