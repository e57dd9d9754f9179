"""DockerBackend against the real engine, with the session's ``six`` environment."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid

import pytest

from amlocal.compute import SERVICE_DIR, WORKDIR, Mount, StepSpec, get_backend


def _labels() -> dict:
    return {"amlocal.run_id": f"test-{uuid.uuid4().hex[:12]}"}


def _containers(client, labels: dict):
    key, value = next(iter(labels.items()))
    return client.containers.list(all=True, filters={"label": f"{key}={value}"})


def test_prepare_is_idempotent(six_env, amlocal_home):
    started = time.perf_counter()
    again = get_backend("docker").prepare(six_env.spec, log=lambda _: None)
    assert again == six_env
    assert time.perf_counter() - started < 2


def test_step_runs_with_mounts_env_labels_and_workdir(six_env, amlocal_home, docker_engine,
                                                      step_dirs, probe_script):
    wd, inputs = step_dirs
    labels = _labels()
    step = StepSpec(run_id=labels["amlocal.run_id"], step_name="probe",
                    command=("python", "-c", probe_script), working_dir=str(wd),
                    mounts=(Mount(str(inputs), "/amlocal/inputs", read_only=True),),
                    env={"PROBE": "/amlocal/inputs:/amlocal/wd"}, labels=labels)
    handle = get_backend("docker").submit(step, six_env)
    (container,) = _containers(docker_engine, labels)
    assert container.labels["amlocal.run_id"] == labels["amlocal.run_id"]
    lines = list(handle.lines())
    assert handle.wait() == 0
    assert lines == ["cwd " + WORKDIR, "input hello from the host",
                     "env /amlocal/inputs:/amlocal/wd", "python /opt/env/bin/python",
                     "inputs read-only"]
    assert (wd / "out.txt").read_text() == "written in the step"
    assert not (inputs / "new.txt").exists()
    assert _containers(docker_engine, labels) == []          # wait removed it


def test_lines_stream_before_the_step_ends(six_env, amlocal_home, step_dirs):
    wd, _ = step_dirs
    labels = _labels()
    step = StepSpec(run_id="r", step_name="s", working_dir=str(wd), labels=labels,
                    command=("python", "-c",
                             "import time; print('first', flush=True); time.sleep(2); "
                             "print('partial', end='', flush=True); time.sleep(0.3); "
                             "print(' line')"))
    started = time.perf_counter()
    handle = get_backend("docker").submit(step, six_env)
    seen = []
    for line in handle.lines():
        seen.append((line, time.perf_counter() - started))
    assert handle.wait() == 0
    assert [s[0] for s in seen] == ["first", "partial line"]
    assert seen[1][1] - seen[0][1] > 1.5                     # the first line came early


def test_last_line_without_newline_is_not_lost(six_env, amlocal_home, step_dirs):
    # The engine's follow stream sometimes ends before an unterminated last line is logged.
    wd, _ = step_dirs
    backend = get_backend("docker")
    for i in range(12):
        step = StepSpec(run_id="r", step_name="s", working_dir=str(wd), labels=_labels(),
                        command=("sh", "-c", f"echo first; printf %s last{i}"))
        handle = backend.submit(step, six_env)
        assert list(handle.lines()) == ["first", f"last{i}"]
        assert handle.wait() == 0


def test_failing_command_returns_non_zero_and_is_removed(six_env, amlocal_home, docker_engine,
                                                         step_dirs):
    wd, _ = step_dirs
    labels = _labels()
    step = StepSpec(run_id="r", step_name="s", working_dir=str(wd), labels=labels,
                    command=("python", "-c", "import sys; print('oops', file=sys.stderr); "
                                             "sys.exit(7)"))
    handle = get_backend("docker").submit(step, six_env)
    assert list(handle.lines()) == ["oops"]
    assert handle.wait() == 7
    assert _containers(docker_engine, labels) == []


def test_cancel_stops_and_removes_the_container(six_env, amlocal_home, docker_engine, step_dirs):
    wd, _ = step_dirs
    labels = _labels()
    step = StepSpec(run_id="r", step_name="s", working_dir=str(wd), labels=labels,
                    command=("sleep", "60"))
    handle = get_backend("docker").submit(step, six_env)
    assert len(_containers(docker_engine, labels)) == 1
    started = time.perf_counter()
    handle.cancel()
    assert time.perf_counter() - started < 10
    assert _containers(docker_engine, labels) == []
    assert handle.wait() != 0


def test_unix_socket_mounts(six_env, amlocal_home, step_dirs, tmp_path):
    wd, _ = step_dirs
    sock_dir = tmp_path / "svc"
    sock_dir.mkdir()
    path = str(sock_dir / "run.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen(2)

    def serve():
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"pong")

    threading.Thread(target=serve, daemon=True).start()
    client_code = ("import socket, sys\n"
                   "for p in sys.argv[1:]:\n"
                   "    s = socket.socket(socket.AF_UNIX); s.connect(p)\n"
                   "    print(s.recv(4).decode())\n")
    step = StepSpec(run_id="r", step_name="s", working_dir=str(wd), labels=_labels(),
                    command=("python", "-c", client_code, f"{SERVICE_DIR}/run.sock",
                             "/amlocal/one.sock"),
                    mounts=(Mount(str(sock_dir), SERVICE_DIR, read_only=False),
                            Mount(path, "/amlocal/one.sock", read_only=False)))
    try:
        handle = get_backend("docker").submit(step, six_env)
        assert list(handle.lines()) == ["pong", "pong"]
        assert handle.wait() == 0
    finally:
        server.close()


def test_wait_removes_even_when_interrupted(six_env, amlocal_home, docker_engine, step_dirs):
    wd, _ = step_dirs
    labels = _labels()
    step = StepSpec(run_id="r", step_name="s", working_dir=str(wd), labels=labels,
                    command=("sleep", "60"))
    handle = get_backend("docker").submit(step, six_env)
    # A real Ctrl-C while wait() blocks on the engine.
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            handle.wait()
    finally:
        timer.cancel()
    assert _containers(docker_engine, labels) == []
