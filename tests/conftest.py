"""Shared fixtures: a fresh AMLOCAL_HOME per test, and the Docker engine check.

Tests that need Docker use the ``docker_engine`` fixture: with ``CI`` set they FAIL when no
engine answers (a skipped integration test proves nothing in CI); locally they skip with the
reason.
"""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh, empty amlocal home for one test."""
    path = tmp_path / "amlocal-home"
    monkeypatch.setenv("AMLOCAL_HOME", str(path))
    monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    for var in ("AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AZUREML_RUN_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture
def workspace(home):
    from amlocal.core import Workspace
    return Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "testws")


def _engine_problem() -> str | None:
    try:
        import docker
        docker.from_env(timeout=10).ping()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means no usable engine
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"


@pytest.fixture(scope="session")
def docker_engine():
    problem = _engine_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI must run the Docker tests (run scripts/setup.sh)")
        pytest.skip(problem)
    return True
