"""The step sandbox (``StepSpec.sandbox``) on the real Docker engine, probed from inside the
container; and the local backend refusing a sandboxed step."""
from __future__ import annotations

import json
import os
import socket
import threading
import uuid

import pytest

from amlocal.compute import SERVICE_DIR, StepSpec, get_backend
from amlocal.compute.base import Mount
from amlocal.errors import ComputeTargetException

# Reports what the sandbox allows as one JSON line. Never sends traffic: with no network the
# connect fails at once (ENETUNREACH); the TCP probe only runs where that is expected.
SANDBOX_PROBE = r"""
import errno, json, os, socket, sys
report = {"uid": os.getuid(), "gid": os.getgid(), "home": os.environ.get("HOME"),
          "nobytecode": os.environ.get("PYTHONDONTWRITEBYTECODE")}
if "--connect" in sys.argv:
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        report["connect"] = "connected"
    except OSError as exc:
        report["connect"] = errno.errorcode.get(exc.errno, str(exc))
writable = {}
for folder in ("/", "/usr", "/opt/env", "/etc", "/amlocal/wd", "/tmp", "/amlocal/out"):
    try:
        with open(os.path.join(folder, "probe.txt"), "w") as f:
            f.write("x")
        writable[folder] = True
    except OSError:
        writable[folder] = False
report["writable"] = writable
report["interfaces"] = sorted(line.split(":")[0].strip()
                              for line in open("/proc/net/dev").read().splitlines()[2:])
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\t" in line)
report["cap_eff"] = status["CapEff"].strip()
report["no_new_privs"] = status.get("NoNewPrivs", "").strip()
for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    if os.path.exists(path):
        report["memory"] = open(path).read().strip()
for path, fmt in (("/sys/fs/cgroup/cpu.max", "v2"), ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "v1")):
    if os.path.exists(path):
        text = open(path).read().split()
        period = text[1] if fmt == "v2" else open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read()
        report["cpus"] = int(text[0]) / int(period)
if os.path.exists("/amlocal/service/run.sock"):
    s = socket.socket(socket.AF_UNIX)
    s.connect("/amlocal/service/run.sock")
    s.sendall(b"hello from the sandbox\n")
    report["service"] = s.makefile().readline().strip()
print(json.dumps(report))
"""


def _labels() -> dict:
    return {"amlocal.run_id": f"test-{uuid.uuid4().hex[:12]}"}


def _run(env, step: StepSpec) -> dict:
    handle = get_backend("docker").submit(step, env)
    lines = list(handle.lines())
    assert handle.wait() == 0, lines
    return json.loads(lines[-1])


class _EchoService:
    """A Unix socket on the host answering one line per connection, like the run service."""

    def __init__(self, folder):
        folder.mkdir()
        os.chmod(folder, 0o755)
        self.path = str(folder / "run.sock")
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.path)
        os.chmod(self.path, 0o666)
        self.server.listen(1)
        self.received: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.server.accept()
        with conn:
            line = conn.makefile().readline().strip()
            self.received.append(line)
            conn.sendall(f"echo: {line}\n".encode())

    def close(self):
        self.server.close()


def test_sandboxed_step_is_cut_off_but_reaches_the_run_service(six_env, amlocal_home,
                                                               docker_engine, tmp_path):
    wd, out = tmp_path / "wd", tmp_path / "out"
    wd.mkdir()
    out.mkdir()
    (wd / "given.txt").write_text("from the snapshot")
    service = _EchoService(tmp_path / "service")
    labels = _labels()
    step = StepSpec(run_id=labels["amlocal.run_id"], step_name="sandboxed",
                    command=("python", "-c", SANDBOX_PROBE, "--connect"), working_dir=str(wd),
                    mounts=(Mount(str(out), "/amlocal/out", read_only=False),
                            Mount(str(tmp_path / "service"), SERVICE_DIR, read_only=False)),
                    labels=labels, sandbox={"network": False, "memory": "256m", "cpus": 0.5})
    try:
        report = _run(six_env, step)
    finally:
        service.close()

    assert report["connect"] == "ENETUNREACH"              # no route at all, nothing was sent
    assert report["interfaces"] == ["lo"]
    assert report["writable"] == {"/": False, "/usr": False, "/opt/env": False, "/etc": False,
                                  "/amlocal/wd": True, "/tmp": True, "/amlocal/out": True}
    assert report["uid"] != 0 and report["gid"] != 0
    if os.getuid() != 0:
        assert (report["uid"], report["gid"]) == (os.getuid(), os.getgid())
    assert report["cap_eff"] == "0000000000000000"
    assert report["no_new_privs"] == "1"
    assert int(report["memory"]) == 256 * 1024 ** 2
    assert report["cpus"] == pytest.approx(0.5)
    assert (report["home"], report["nobytecode"]) == ("/tmp", "1")
    assert service.received == ["hello from the sandbox"]
    assert report["service"] == "echo: hello from the sandbox"
    # what it wrote in its working directory and outputs is on the host; nothing else leaked
    assert (wd / "probe.txt").read_text() == "x" and (out / "probe.txt").read_text() == "x"
    assert not (amlocal_home / "probe.txt").exists()
    assert docker_engine.containers.list(all=True, filters={"label": f"amlocal.run_id={labels['amlocal.run_id']}"}) == []


def test_allow_network_keeps_an_interface_and_the_rest_of_the_sandbox(six_env, amlocal_home,
                                                                      tmp_path):
    wd = tmp_path / "wd"
    wd.mkdir()
    step = StepSpec(run_id="r", step_name="net", command=("python", "-c", SANDBOX_PROBE),
                    working_dir=str(wd), labels=_labels(), sandbox={"network": True})
    report = _run(six_env, step)
    assert [i for i in report["interfaces"] if i != "lo"]   # read /proc/net/dev; no traffic
    assert report["writable"]["/"] is False and report["writable"]["/amlocal/wd"] is True
    assert report["uid"] != 0
    assert "memory" not in report or int(report["memory"]) > 2 ** 40   # no limit asked for


def test_a_step_without_sandbox_is_unchanged(six_env, amlocal_home, tmp_path):
    wd = tmp_path / "wd"
    wd.mkdir()
    step = StepSpec(run_id="r", step_name="plain", command=("python", "-c", SANDBOX_PROBE),
                    working_dir=str(wd), labels=_labels())
    report = _run(six_env, step)
    assert report["writable"]["/tmp"] is True
    assert [i for i in report["interfaces"] if i != "lo"]
    assert report["cap_eff"] != "0000000000000000" or report["uid"] != 0
    assert report["uid"] == os.getuid()


def test_local_backend_refuses_a_sandboxed_step(tmp_path, six_spec):
    from amlocal.compute.base import ResolvedEnvironment
    env = ResolvedEnvironment(spec=six_spec, installer="uv", installer_version="0", lock_text="",
                              digest="0" * 64, base_image="b", image="i")
    step = StepSpec(run_id="r", step_name="boxed", command=("python", "-c", "pass"),
                    working_dir=str(tmp_path), sandbox={"network": False})
    with pytest.raises(ComputeTargetException, match="'local' compute target cannot enforce.*docker"):
        get_backend("local").submit(step, env)
