"""Fixtures of the contract suites: every compute backend with an environment prepared once per
session with nothing installed (docker: a user-managed environment, the base image plus the
interpreter launcher; local: an empty virtualenv; host: this interpreter; ray: docker's, run
through Ray tasks on a one-node ``ray.cluster_utils.Cluster`` started for the module: without
the ray package it skips locally and fails under $CI)."""
from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from amlocal.compute.bootstrap import bootstrap_base as _bootstrap_base
from amlocal.compute import ComputeBackend, EnvironmentSpec, ResolvedEnvironment, get_backend

TEST_BASE = "amlocal/base:bookworm"
BACKENDS = ("docker", "local", "host", "ray")


@dataclass(frozen=True)
class PreparedBackend:
    """A backend and an environment it has prepared."""

    kind: str
    backend: ComputeBackend
    env: ResolvedEnvironment


@pytest.fixture(scope="session")
def contract_home(tmp_path_factory):
    """The AMLOCAL_HOME the session's environments are prepared in (locks, build logs,
    virtualenvs)."""
    return tmp_path_factory.mktemp("contract-home")


def _prepare(kind: str, home) -> PreparedBackend:
    if kind in ("docker", "ray"):   # the image's own python (the base image's python3)
        spec = EnvironmentSpec(name="contract-docker", user_managed=True)
    elif kind == "local":     # an empty environment: a virtualenv with nothing installed
        spec = EnvironmentSpec(name="contract-local")
    else:                     # this interpreter, as a notebook's user-managed environment
        spec = EnvironmentSpec(name="contract-host", user_managed=True,
                               interpreter_path=sys.executable)
    backend = get_backend(kind)
    with pytest.MonkeyPatch.context() as mp:   # only while preparing: nothing leaks
        mp.setenv("AMLOCAL_HOME", str(home))
        mp.setenv("AMLOCAL_BASE_IMAGE", TEST_BASE)
        return PreparedBackend(kind, backend, backend.prepare(spec, log=lambda line: None))


@pytest.fixture(scope="session")
def _docker_prepared(docker_engine, contract_home) -> PreparedBackend:
    from amlocal.compute import images
    if not images.image_exists(TEST_BASE):
        _bootstrap_base(TEST_BASE, log=lambda line: None)
    return _prepare("docker", contract_home)


@pytest.fixture(scope="module")
def _ray_prepared(_docker_prepared, contract_home, ray_clusters):
    """The ray backend on a one-node cluster of this machine (2 CPUs, 1 GiB), connected through
    the backend itself; shut down with the module, so other modules may start their own."""
    with ray_clusters.running([ray_clusters.node(cpus=2)]) as cluster:
        backend = get_backend("ray", address=cluster.address)
        yield PreparedBackend("ray", backend, _docker_prepared.env)


@pytest.fixture(scope="session")
def _local_prepared(contract_home) -> PreparedBackend:
    return _prepare("local", contract_home)


@pytest.fixture(scope="session")
def _host_prepared(contract_home) -> PreparedBackend:
    return _prepare("host", contract_home)


@pytest.fixture(params=BACKENDS)
def prepared(request, monkeypatch, contract_home) -> PreparedBackend:
    """Each backend in turn with its prepared environment, AMLOCAL_HOME the one it was prepared
    in (docker needs the engine: it fails under CI without one, skips locally)."""
    ready = request.getfixturevalue(f"_{request.param}_prepared")
    monkeypatch.setenv("AMLOCAL_HOME", str(contract_home))
    return ready
