"""Shared fixtures of the studio server tests: a real server process (``python -m amlocal.server``
started through ``amlocal._engine.studio.start()``) with a real key, over a real home.

- ``studio``: function-scoped, in the test's fresh ``home`` (tests/conftest.py); stopped with it.
- ``studio_module``: one server in its own home for a whole test module (for tests that share
  expensive state, e.g. a finished pipeline run); stopped when the module ends. While it lives,
  AMLOCAL_HOME points at its home.

Both give a :class:`Studio`: ``url``, ``key`` (an active key made for the test), ``headers``
(``{"Authorization": "Bearer <key>"}``), ``pid``, ``home``, and ``get``/``post`` helpers
(httpx, answers not raised on 4xx/5xx) that send the key unless ``auth=False``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ENV_CLEARED = ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AZUREML_RUN_TOKEN",
               "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_RUN_ID",
               "AMLOCAL_STUDIO_HOST")


@dataclass(frozen=True)
class Studio:
    url: str
    key: str
    pid: int
    home: Path

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, *, auth: bool = True, **kwargs) -> httpx.Response:
        headers = {**(self.headers if auth else {}), **kwargs.pop("headers", {})}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=60, **kwargs)

    def post(self, path: str, *, auth: bool = True, **kwargs) -> httpx.Response:
        headers = {**(self.headers if auth else {}), **kwargs.pop("headers", {})}
        return httpx.post(f"{self.url}{path}", headers=headers, timeout=60, **kwargs)


def start_studio(home: Path, key_name: str = "tests") -> Studio:
    """Start the server of ``home`` (AMLOCAL_HOME must point at it) and make a key."""
    from amlocal._engine import studio
    from amlocal.store import open_store
    info = studio.start(notice=False)
    _, key = open_store().create_api_key(key_name)
    return Studio(url=info.url, key=key, pid=info.pid, home=home)


@pytest.fixture
def studio(home):
    """The test home's server, running, with a key (stopped by ``home`` at the end)."""
    return start_studio(home)


@pytest.fixture(scope="module")
def studio_module(tmp_path_factory):
    """One server in its own home for the whole module."""
    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("studio") / "amlocal-home"
    patch.setenv("AMLOCAL_HOME", str(home))
    patch.setenv("AMLOCAL_STUDIO_PORT", "0")
    for var in ENV_CLEARED:
        patch.delenv(var, raising=False)
    try:
        yield start_studio(home)
    finally:
        from amlocal._engine import studio
        studio.stop()
        patch.undo()
