"""Shared fixtures for the compute tests: a real Docker engine (skip, or fail under CI, when none
answers), the offline base image, one small environment (``six``) built once per session, and
an AMLOCAL_HOME per test that shares the session's lock cache and virtualenvs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from amlocal.compute.bootstrap import bootstrap_base as _bootstrap_base
from amlocal.compute.base import EnvironmentSpec
from amlocal.compute.environments import BaseInfo

TEST_BASE = "amlocal/base:bookworm"
SIX_SPEC = EnvironmentSpec(name="compute-tests-six", pip_packages=("six",))
# A base described without Docker, for tests that only lock (uv needs PyPI, not Docker).
PLAIN_BASE = BaseInfo(image=TEST_BASE, python="3.11", platform="x86_64",
                      layers=("sha256:" + "1" * 64,))


@pytest.fixture(scope="session")
def session_home(tmp_path_factory):
    """A session-wide AMLOCAL_HOME folder (locks, build logs, virtualenvs); the environment
    variable is set per test by ``amlocal_home``/``fresh_home``, never for the session."""
    home = tmp_path_factory.mktemp("amlocal-session-home")
    for sub in ("locks", "venvs", "build-logs"):
        (home / sub).mkdir()
    return home


@pytest.fixture
def amlocal_home(tmp_path, monkeypatch, session_home) -> Path:
    """A fresh AMLOCAL_HOME for one test whose ``locks`` and ``venvs`` are the session's."""
    home = tmp_path / "amlocal-home"
    home.mkdir()
    (home / "locks").symlink_to(session_home / "locks")
    (home / "venvs").symlink_to(session_home / "venvs")
    monkeypatch.setenv("AMLOCAL_HOME", str(home))
    monkeypatch.setenv("AMLOCAL_BASE_IMAGE", TEST_BASE)
    return home


@pytest.fixture
def fresh_home(tmp_path, monkeypatch, session_home) -> Path:
    """An empty AMLOCAL_HOME (nothing cached)."""
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("AMLOCAL_HOME", str(home))
    monkeypatch.setenv("AMLOCAL_BASE_IMAGE", TEST_BASE)
    return home


@pytest.fixture(scope="session")
def docker_engine():
    """A docker-py client of an engine that answers; skip without one (fail when $CI is set)."""
    from amlocal.compute import images
    from amlocal.errors import DockerUnavailableError
    try:
        return images.docker_client()
    except DockerUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a Docker engine for the compute tests: {exc}")
        pytest.skip(f"no Docker engine answers: {exc}")


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    """The offline base image, bootstrapped once per machine (about 45 s) when missing."""
    from amlocal.compute import images
    if not images.image_exists(TEST_BASE, docker_engine):
        _bootstrap_base(TEST_BASE)
    return TEST_BASE


@pytest.fixture(scope="session")
def six_env(base_image, session_home):
    """The ResolvedEnvironment of SIX_SPEC with its image built (shared by the docker tests)."""
    from amlocal.compute.docker import DockerBackend
    with pytest.MonkeyPatch.context() as mp:   # only while building: nothing leaks to other tests
        mp.setenv("AMLOCAL_HOME", str(session_home))
        mp.setenv("AMLOCAL_BASE_IMAGE", base_image)
        return DockerBackend().prepare(SIX_SPEC, log=lambda line: None)


@pytest.fixture
def step_dirs(tmp_path):
    """A working directory and a read-only input folder with one file."""
    wd = tmp_path / "wd"
    inputs = tmp_path / "inputs"
    wd.mkdir()
    inputs.mkdir()
    (inputs / "data.txt").write_text("hello from the host\n")
    return wd, inputs


# The command both backends run: it reports what it sees through the container layout.
PROBE_SCRIPT = r"""
import os, sys, six
print("cwd", os.getcwd())
print("input", open("/amlocal/inputs/data.txt").read().strip())
print("env", os.environ["PROBE"])
print("python", sys.executable)
try:
    open("/amlocal/inputs/new.txt", "w").write("x")
    print("inputs writable")
except OSError:
    print("inputs read-only")
open("/amlocal/wd/out.txt", "w").write("written in the step")
sys.stdout.flush()
"""


@pytest.fixture
def probe_script() -> str:
    return PROBE_SCRIPT


@pytest.fixture
def plain_base() -> BaseInfo:
    return PLAIN_BASE


@pytest.fixture
def six_spec() -> EnvironmentSpec:
    return SIX_SPEC
