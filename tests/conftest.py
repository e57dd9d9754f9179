"""Shared fixtures: a fresh AMLOCAL_HOME per test, and the Docker engine check.

PostgreSQL is one server per test session (``postgres``, tests/postgres.py: Debian's package,
started as the ``postgres`` user): tests or modules marked ``both_stores`` run once on the
home's SQLite store and once on a fresh PostgreSQL database (``store_kind``, ``store_url``);
with ``CI`` set a server that cannot start fails those tests, locally they skip with the reason.

Azurite (the Azure Storage emulator) is one per test session: ``azurite`` (tests/azurite.py);
with ``CI`` set a failure to start it fails the tests, locally they skip with the reason.

MariaDB (Debian's ``mariadb-server``, MySQL-compatible) is one server per session too
(``mariadb``, tests/mariadb.py; ``mysql_url`` is a fresh database of it), with the same rule.

Tests that need Docker use the ``docker_engine`` fixture: with ``CI`` set they FAIL when no
engine answers (a skipped integration test proves nothing in CI); locally they skip with the
reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch, store_url):
    """A fresh, empty amlocal home for one test. Its studio server (started on demand, e.g.
    by publish()) listens on a free port and is stopped when the test ends. Its store is the
    home's SQLite database, or a fresh PostgreSQL database in tests marked ``both_stores``."""
    path = tmp_path / "amlocal-home"
    monkeypatch.setenv("AMLOCAL_HOME", str(path))
    monkeypatch.setenv("AMLOCAL_STUDIO_PORT", "0")
    use_store(monkeypatch, store_url)
    for var in ("AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AMLOCAL_RUN_SERVICE_CA",
                "AZUREML_RUN_TOKEN", "AMLOCAL_ARTIFACTS_URL", "AMLOCAL_ARTIFACTS_OPTIONS",
                "AMLOCAL_RAY_ADDRESS", "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN",
                "MLFLOW_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    yield path
    if (path / "studio" / "server.json").exists():
        from amlocal._engine import studio
        studio.stop()


@pytest.fixture(autouse=True)
def _no_studio_server_left(tmp_path):
    """A test's programs may start studio servers in homes under its tmp_path (publish() does):
    every one still running is stopped when the test ends."""
    yield
    import json
    import signal
    found_files = [*tmp_path.glob("*/studio/server.json"), *tmp_path.glob("*/*/studio/server.json")]
    for found in found_files:
        try:
            pid = int(json.loads(found.read_text())["pid"])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, KeyError):
            continue
        if b"amlocal.server" in cmdline:
            os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="session", autouse=True)
def _runner_hosts_stopped_at_the_end():
    """Submissions start a warm runner host (one per user and installation) that would idle
    on after the session: ask it to end when the tests are done."""
    yield
    from amlocal._engine import runner_host
    runner_host.stop_hosts()


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


def missing(problem: str, in_ci: str) -> None:
    """A service or package a test needs is missing: FAIL under ``CI`` (``problem; in_ci``),
    skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; {in_ci}")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def docker_engine():
    problem = _engine_problem()
    if problem:
        missing(problem, "CI must run the Docker tests (run scripts/setup.sh)")
    return True


def _started(module, unavailable: type, what: str, *args):
    """``module.start(*args)`` of a test helper (tests/postgres.py ...); ``what`` missing:
    :func:`missing`."""
    try:
        return module.start(*args)
    except unavailable as exc:
        missing(f"{what} could not start: {exc}", f"{what} is needed in CI")


_AZURITE = Path(__file__).resolve().parent / "azurite.py"


def _helper_module(path: Path):
    """A helper module of the tests folder (not a package), imported once by its path."""
    import importlib.util
    import sys
    name = f"amlocal_tests_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _azurite_module():
    return _helper_module(_AZURITE)


@pytest.fixture(scope="session")
def ray_clusters():
    """tests/ray_cluster.py: ``with ray_clusters.running([ray_clusters.node(node_a=1), ...]) as
    cluster`` starts a Ray cluster on this machine (see that module)."""
    return _helper_module(Path(__file__).resolve().parent / "ray_cluster.py")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A running Azurite (``.endpoint``, ``.account``, ``.key``, ``.connection_string()``)."""
    module = _azurite_module()
    az = _started(module, module.AzuriteUnavailable, "Azurite", tmp_path_factory.mktemp("azurite"))
    yield az
    module.stop(az)


# -- the store: SQLite, and PostgreSQL for tests marked both_stores --------------------------
STORE_KINDS = ("sqlite", "postgresql")
_POSTGRES = Path(__file__).resolve().parent / "postgres.py"


def pytest_configure(config):
    config.addinivalue_line("markers", "both_stores: run the test on SQLite and on PostgreSQL "
                                       "(the store_kind fixture)")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_stores") and \
            "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", STORE_KINDS, indirect=True)


def _postgres_module():
    return _helper_module(_POSTGRES)


@pytest.fixture(scope="session")
def postgres():
    """A running PostgreSQL server (``.url(database)``), one per session."""
    module = _postgres_module()
    pg = _started(module, module.PostgresUnavailable, "PostgreSQL")
    yield pg
    module.stop(pg)


@pytest.fixture
def postgres_url(postgres) -> str:
    """The URL of a new, empty database of the session's server."""
    return _postgres_module().database(postgres)


# -- MariaDB (MySQL-compatible) for the MySQL datastore tests ---------------------------------
_MARIADB = Path(__file__).resolve().parent / "mariadb.py"


@pytest.fixture(scope="session")
def mariadb():
    """A running MariaDB server (``.url(database)``, ``.port``), one per session."""
    module = _helper_module(_MARIADB)
    server = _started(module, module.MariaDBUnavailable, "MariaDB")
    yield server
    module.stop(server)


@pytest.fixture
def mysql_url(mariadb) -> str:
    """The ``mysql://`` URL of a new, empty database of the session's MariaDB server."""
    return _helper_module(_MARIADB).database(mariadb)


@pytest.fixture
def store_kind(request) -> str:
    """``"sqlite"``, or each of STORE_KINDS in tests marked ``both_stores``.
    ``AMLOCAL_TEST_STORE=postgresql`` runs every other test's home on PostgreSQL too."""
    return getattr(request, "param", os.environ.get("AMLOCAL_TEST_STORE") or "sqlite")


@pytest.fixture
def store_url(request, store_kind) -> str | None:
    """None for the home's SQLite store; a fresh PostgreSQL database's URL otherwise."""
    return request.getfixturevalue("postgres_url") if store_kind == "postgresql" else None


def use_store(monkeypatch, url: str | None) -> None:
    """Point AMLOCAL_STORE_URL at ``url`` (None: the home's SQLite database)."""
    if url:
        monkeypatch.setenv("AMLOCAL_STORE_URL", url)
    else:
        monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
