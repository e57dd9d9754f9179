"""LocalBackend: a virtualenv from the same lock, and the /amlocal path mapping."""
from __future__ import annotations

import os
import time

import pytest

from amlocal.compute import Mount, StepSpec, get_backend, local, process
from amlocal.compute.base import EnvironmentSpec
from amlocal.errors import EnvironmentBuildError


def test_map_container_path():
    root = "/tmp/R"
    assert process.map_container_path("/amlocal/wd/x.py", root) == "/tmp/R/wd/x.py"
    assert process.map_container_path("/amlocal/runtime:/amlocal/wd", root) == \
        "/tmp/R/runtime:/tmp/R/wd"
    assert process.map_container_path("--out=/amlocal/outputs/o", root) == "--out=/tmp/R/outputs/o"
    assert process.map_container_path("/amlocal", root) == "/tmp/R"
    # Not a path prefix: left alone.
    for value in ("/home/u/.amlocal/x", "/srv/amlocal/x", "/amlocalx/y", "amlocal/wd"):
        assert process.map_container_path(value, root) == value


@pytest.fixture
def local_env(amlocal_home, six_spec):
    backend = get_backend("local")
    return backend, backend.prepare(six_spec, log=lambda _: None)


def test_prepare_builds_a_venv_once_with_the_docker_digest(local_env, six_env, amlocal_home):
    backend, resolved = local_env
    if resolved.base_image:
        # Docker answers and the base's Python matches this machine: the very same lock/digest.
        assert resolved.digest == six_env.digest and resolved.lock_text == six_env.lock_text
    venv = local.venv_path(resolved)
    assert (venv / local.COMPLETE_MARKER).is_file()
    assert not (venv / local.BUILDING_MARKER).exists()
    started = time.perf_counter()
    assert local.ensure_venv(resolved, log=lambda _: None) is False
    assert time.perf_counter() - started < 0.1


def test_same_command_runs_with_path_mapping(local_env, step_dirs, probe_script):
    backend, resolved = local_env
    wd, inputs = step_dirs
    step = StepSpec(run_id="r", step_name="probe", command=("python", "-c", probe_script),
                    working_dir=str(wd),
                    mounts=(Mount(str(inputs), "/amlocal/inputs", read_only=True),),
                    env={"PROBE": "/amlocal/inputs:/amlocal/wd", "PYTHONPATH": "/amlocal/wd"},
                    labels={"amlocal.run_id": "r"})
    handle = backend.submit(step, resolved)
    lines = list(handle.lines())
    assert handle.wait() == 0
    assert lines[0] == f"cwd {wd}"
    assert lines[1] == "input hello from the host"
    root = lines[2].split()[1].split(":")[0].rsplit("/inputs", 1)[0]
    assert lines[2] == f"env {root}/inputs:{root}/wd" and root != "/amlocal"
    assert lines[3] == f"python {local.venv_path(resolved)}/bin/python"
    # A symlinked folder is not read-only: the local backend does not enforce read_only.
    assert lines[4] in ("inputs read-only", "inputs writable")
    assert (wd / "out.txt").read_text() == "written in the step"
    assert not os.path.exists(root)                          # the step's root is removed


def test_failing_command_and_cancel(local_env, step_dirs):
    backend, resolved = local_env
    wd, _ = step_dirs
    fail = StepSpec(run_id="r", step_name="s", working_dir=str(wd),
                    command=("python", "-c", "import sys; print('oops', file=sys.stderr); "
                                             "sys.exit(5)"))
    handle = backend.submit(fail, resolved)
    assert list(handle.lines()) == ["oops"]
    assert handle.wait() == 5

    sleeper = StepSpec(run_id="r", step_name="s", working_dir=str(wd),
                       command=("sh", "-c", "sleep 60 & wait"))
    handle = backend.submit(sleeper, resolved)
    started = time.perf_counter()
    handle.cancel()
    assert handle.wait() != 0
    assert time.perf_counter() - started < 7


def test_conda_packages_come_from_pypi_locally(amlocal_home, step_dirs):
    # A virtualenv cannot hold conda packages: they are mapped to PyPI (compute/conda_map.py),
    # and the environment's variables reach the process as they would in its image.
    spec = EnvironmentSpec(name="c", conda_packages=("conda-forge::six", "msgpack-python",
                                                     "libgcc-ng"),
                           environment_variables={"FROM_ENV": "baked", "PROBE": "env"})
    said: list[str] = []
    backend = get_backend("local")
    resolved = backend.prepare(spec, log=said.append)
    assert resolved.installer == "uv" and "msgpack==" in resolved.lock_text
    assert len([s for s in said if s.startswith("warning")]) == 1
    wd, _ = step_dirs
    step = StepSpec(run_id="r", step_name="s", working_dir=str(wd), env={"PROBE": "step"},
                    command=("python", "-c", "import os, msgpack, six; "
                             "print(msgpack.unpackb(msgpack.packb([1])), os.environ['FROM_ENV'], "
                             "os.environ['PROBE'])"))
    handle = backend.submit(step, resolved)
    assert list(handle.lines()) == ["[1] baked step"]
    assert handle.wait() == 0


def test_r_packages_are_refused_locally(amlocal_home):
    spec = EnvironmentSpec(name="c", conda_packages=("r-base",))
    with pytest.raises(EnvironmentBuildError, match="r-base"):
        get_backend("local").prepare(spec, log=lambda _: None)


def test_user_managed_runs_the_interpreter_as_it_is(amlocal_home, step_dirs):
    # Docker off and user-managed: this machine's interpreter, nothing built (the host backend;
    # a 'local' target hands such an environment to it too).
    import sys
    wd, inputs = step_dirs
    spec = EnvironmentSpec(name="mine", user_managed=True, interpreter_path=sys.executable)
    for kind in ("host", "local"):
        backend = get_backend(kind)
        resolved = backend.prepare(spec, log=lambda _: None)
        assert resolved.installer == "host" and resolved.image == ""
        assert not (amlocal_home / "venvs" / resolved.digest).exists()
        step = StepSpec(run_id="r", step_name="s", working_dir=str(wd),
                        mounts=(Mount(str(inputs), "/amlocal/inputs"),),
                        command=("python", "-c", "import sys; print(sys.executable); "
                                 "print(open('/amlocal/inputs/data.txt').read().strip())"))
        handle = backend.submit(step, resolved)
        assert list(handle.lines()) == [os.path.abspath(sys.executable), "hello from the host"]
        assert handle.wait() == 0
    with pytest.raises(EnvironmentBuildError, match="interpreter_path"):
        get_backend("host").prepare(EnvironmentSpec(name="x", user_managed=True,
                                                    interpreter_path="no-such-python-4711"),
                                    log=lambda _: None)


def test_local_without_docker_locks_for_this_machine(amlocal_home, monkeypatch, six_spec):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{amlocal_home}/no-docker.sock")
    resolved = get_backend("local").prepare(six_spec, log=lambda _: None)
    assert resolved.base_image == ""
    assert "six==" in resolved.lock_text
    assert (local.venv_path(resolved) / local.COMPLETE_MARKER).is_file()
    assert os.path.exists(local.venv_path(resolved) / "bin" / "python")


def test_host_digest_follows_the_interpreters_packages(amlocal_home, tmp_path):
    # A pipeline step on a 'local' target with a user-managed environment is reused only while
    # the interpreter's installed packages are unchanged.
    import subprocess
    import sys

    from amlocal.compute.environments import uv_binary
    venv = tmp_path / "own-venv"
    subprocess.run([uv_binary(), "venv", "--python", sys.executable, str(venv)], check=True,
                   capture_output=True)
    spec = EnvironmentSpec(name="mine", user_managed=True,
                           interpreter_path=str(venv / "bin" / "python"))
    before = get_backend("host").prepare(spec, log=lambda _: None)
    assert get_backend("host").prepare(spec, log=lambda _: None).digest == before.digest
    subprocess.run([uv_binary(), "pip", "install", "--python", str(venv / "bin" / "python"),
                    "six"], check=True, capture_output=True)
    after = get_backend("host").prepare(spec, log=lambda _: None)
    assert after.digest != before.digest
