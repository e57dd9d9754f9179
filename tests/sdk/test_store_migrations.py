"""The store's migrations on every database it runs on: 0001 -> head keeps what the first schema
stored, head -> base removes every table, and head again gives a store that works; a store
URL's password never shows in an error."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from amlocal.errors import StoreError

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL (tests/conftest.py)

TABLES = {"workspaces", "datastores", "experiments", "runs", "metrics", "models", "environments",
          "published_pipelines", "compute_targets", "datasets", "pipeline_endpoints",
          "pipeline_endpoint_versions", "schedules", "schedule_firings", "schedule_files",
          "api_keys"}


@pytest.fixture
def url(store_url, tmp_path) -> str:
    return store_url or f"sqlite:///{tmp_path / 'old.db'}"


def _alembic(engine, target: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config
    import amlocal.store.sql as sql
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(sql.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def test_upgrade_from_0001_to_head_then_down_to_base_and_up_again(url, tmp_path):
    import amlocal.store.sql as sql
    from amlocal.store.entities import MetricRecord, RunInfo, WorkspaceInfo, utcnow
    engine = sql.SqlStore._make_engine(url)
    _alembic(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into runs (id, workspace_id, experiment, kind, status, target, created_at, "
            "tags, properties, definition) values ('old-run', 'w', 'e', 'step', 'Finished', "
            "'local', '2026-01-01T00:00:00.000000Z', '{\"t\": \"1\"}', '{}', '{}')"))
        conn.execute(sa.text("insert into experiments (workspace_id, name, created_at) "
                             "values ('w', 'e', '2026-01-01T00:00:00.000000Z')"))
        conn.execute(sa.text(
            "insert into models (workspace_id, name, version, path, tags, properties, "
            "created_at) values ('w', 'm', 1, 'model.pkl', '{}', '{}', "
            "'2026-01-01T00:00:00.000000Z')"))
    store = sql.SqlStore(url, tmp_path / "home" / "artifacts", tmp_path / "home" / "models")
    old = store.get_run("old-run")
    assert (old.status, old.tags, old.reuse_key) == ("Finished", {"t": "1"}, None)
    assert store.get_experiment("w", "e").tags == {}           # 0003's server default
    assert store.get_model("w", "m").datasets == []
    store.create_workspace(WorkspaceInfo(id="w", name="ws1", subscription_id="s",
                                         resource_group="g"))
    store.create_run(RunInfo(id="new", workspace_id="w", experiment="e", kind="step",
                             status="Finished", reuse_key="k" * 64))
    assert store.find_reusable_run("w", "k" * 64).id == "new"
    assert _tables(engine) == TABLES

    _alembic(engine, "base", down=True)
    assert _tables(engine) == set()
    _alembic(engine, "head")
    assert _tables(engine) == TABLES
    store = sql.SqlStore(url, tmp_path / "home" / "artifacts", tmp_path / "home" / "models")
    store.create_run(RunInfo(id="again", workspace_id="w", experiment="e", kind="step"))
    store.log_metrics("again", [MetricRecord("loss", "scalar", float("nan"), 0, utcnow())])
    assert [r.name for r in store.get_metric_records("again")] == ["loss"]
    engine.dispose()


def test_a_store_url_password_never_shows_in_errors(postgres_url, tmp_path):
    import amlocal.store.sql as sql
    password = sa.engine.make_url(postgres_url).password
    wrong = postgres_url.replace(f":{password}@", ":WRONG-pa55word-S3CRET@")
    with pytest.raises(StoreError) as caught:
        sql.SqlStore(wrong, tmp_path / "h" / "artifacts", tmp_path / "h" / "models")
    message = str(caught.value)
    assert "WRONG-pa55word-S3CRET" not in message and password not in message
    assert "***" in message and "password authentication failed" in message, message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


OPENER = r"""
import sys, time
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.001)
from amlocal.store import open_store
store = open_store()
print(len(store.list_experiments("w")))
"""


def test_machines_opening_a_new_database_at_once_migrate_it_once(postgres_url, tmp_path):
    """Six processes with six homes (as six machines: no shared lock file) open one new
    PostgreSQL database at the same moment: the migrations' advisory lock lets one migrate."""
    import os
    import subprocess
    import sys
    import time
    go = tmp_path / "go"
    procs = []
    for i in range(6):
        env = {**os.environ, "AMLOCAL_HOME": str(tmp_path / f"home{i}"),
               "AMLOCAL_STORE_URL": postgres_url, "PYTHONPATH": os.pathsep.join(sys.path)}
        procs.append(subprocess.Popen([sys.executable, "-c", OPENER, str(go)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    time.sleep(1.0)
    go.touch()
    results = [(p.wait(120), *p.communicate()) for p in procs]
    assert all(rc == 0 and out.strip() == "0" for rc, out, _ in results), results
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        from amlocal.store.sql import HEAD_REVISION
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == \
            [(HEAD_REVISION,)]
    engine.dispose()
