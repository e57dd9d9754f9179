"""docker-py's errors never leave the compute package: an engine that cannot be reached is
DockerUnavailableError, what a real engine refuses is ComputeError (EnvironmentBuildError for a
build), each naming what failed."""
from __future__ import annotations

import socket
import uuid

import pytest

from amlocal.compute import Mount, StepSpec, get_backend, services
from amlocal.compute.base import EnvironmentSpec, ResolvedEnvironment
from amlocal.compute.docker import remove_labelled
from amlocal.errors import ComputeError, DockerUnavailableError

TEST_BASE = "amlocal/base:bookworm"


def _resolved(image: str) -> ResolvedEnvironment:
    return ResolvedEnvironment(spec=EnvironmentSpec(name="errors-test", user_managed=True),
                               installer="user-managed", installer_version="", lock_text="",
                               digest="0" * 64, base_image=TEST_BASE, image=image)


def _step(tmp_path, **fields) -> StepSpec:
    wd = tmp_path / "wd"
    wd.mkdir(exist_ok=True)
    return StepSpec(**{"run_id": f"test-{uuid.uuid4().hex[:12]}", "step_name": "probe",
                       "command": ("python3", "-c", "print('hi')"), "working_dir": str(wd),
                       **fields})


def _docker_or_requests(exc: BaseException) -> bool:
    import docker
    import requests
    return isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException))


@pytest.fixture
def no_engine(monkeypatch, tmp_path, amlocal_home):
    """DOCKER_HOST pointing at a Unix socket path that does not exist."""
    missing = tmp_path / "nowhere" / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{missing}")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return missing


def _calls(tmp_path):
    backend = get_backend("docker")
    env = _resolved(TEST_BASE)
    spec = EnvironmentSpec(name="errors-test", user_managed=True)
    return {
        "prepare": lambda: backend.prepare(spec, log=lambda line: None),
        "submit": lambda: backend.submit(_step(tmp_path), env),
        "serve": lambda: backend.serve(_step(tmp_path), env, container_port=80),
        "shell": lambda: backend.shell(_step(tmp_path), env),
        "find_services": lambda: services.find_services({"amlocal.webservice": "x"}),
        "service_logs": lambda: services.service_logs("0" * 64),
        "service_status": lambda: services.service_status("0" * 64),
        "remove_service": lambda: services.remove_service("0" * 64),
        "remove_labelled": lambda: remove_labelled({"amlocal.pipeline_run_id": "x"}),
    }


@pytest.mark.parametrize("call", ["prepare", "submit", "serve", "shell", "find_services",
                                  "service_logs", "service_status", "remove_service",
                                  "remove_labelled"])
def test_an_engine_that_cannot_be_reached_is_docker_unavailable(no_engine, tmp_path, call):
    with pytest.raises(DockerUnavailableError) as caught:
        _calls(tmp_path)[call]()
    assert "No Docker engine is answering" in str(caught.value)
    assert "compute target 'local'" in str(caught.value)          # the way out
    assert not _docker_or_requests(caught.value)


def test_a_missing_image_is_refused_before_any_container_starts(docker_engine, amlocal_home,
                                                                tmp_path):
    import docker
    image = f"amlocal-env:does-not-exist-{uuid.uuid4().hex[:8]}"
    step = _step(tmp_path)
    for start in (lambda: get_backend("docker").submit(step, _resolved(image)),
                  lambda: get_backend("docker").serve(step, _resolved(image), container_port=80)):
        with pytest.raises(ComputeError) as caught:
            start()
        assert image in str(caught.value) and "prepare the environment again" in str(caught.value)
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": f"amlocal.run_id={step.run_id}"}) == []


def test_a_container_the_engine_refuses_is_a_compute_error(docker_engine, amlocal_home,
                                                           tmp_path):
    missing = tmp_path / "no-such-folder"
    step = _step(tmp_path, mounts=(Mount(str(missing), "/amlocal/inputs"),))
    with pytest.raises(ComputeError) as caught:
        get_backend("docker").submit(step, _resolved(TEST_BASE))
    message = str(caught.value)
    assert "starting the container of step 'probe'" in message
    assert str(missing) in message                      # the engine's own words name the path
    assert not _docker_or_requests(caught.value)


def test_a_port_in_use_names_the_port_and_the_fix(docker_engine, amlocal_home, tmp_path):
    import docker
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    step = _step(tmp_path, command=("sleep", "30"))
    try:
        with pytest.raises(ComputeError) as caught:
            get_backend("docker").serve(step, _resolved(TEST_BASE), container_port=8000,
                                        host_port=port)
        assert f"port {port} is in use" in str(caught.value)
        client = docker.from_env()             # the container that could not start is removed
        assert client.containers.list(all=True,
                                      filters={"label": f"amlocal.run_id={step.run_id}"}) == []
    finally:
        taken.close()
        remove_labelled({"amlocal.run_id": step.run_id})


def test_logs_of_a_container_that_is_gone(docker_engine, amlocal_home):
    gone = uuid.uuid4().hex * 2
    with pytest.raises(ComputeError) as caught:
        services.service_logs(gone)
    assert gone[:12] in str(caught.value) and "removed" in str(caught.value)
    assert services.service_status(gone) == "removed"
    services.remove_service(gone)                       # nothing to remove: no error
