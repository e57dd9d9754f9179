"""The store's schema migrations keep what an older amlocal stored, and its new parts work."""
from pathlib import Path

import pytest
import sqlalchemy as sa

from amlocal.errors import UserErrorException

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL (tests/conftest.py)


def test_upgrade_from_the_first_schema_keeps_the_data(tmp_path, monkeypatch):
    from alembic import command
    from alembic.config import Config
    import amlocal.store.sql as sql
    from amlocal.store.entities import RunInfo, WorkspaceInfo

    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(sql.__file__).parent / "migrations"))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(sa.text(
            "insert into runs (id, workspace_id, experiment, kind, status, target, created_at, "
            "tags, properties, definition) values ('old-run', 'w', 'e', 'step', 'Finished', "
            "'local', '2026-01-01T00:00:00.000000Z', '{}', '{}', '{}')"))
    store = sql.SqlStore(url, tmp_path / "artifacts", tmp_path / "models")
    old = store.get_run("old-run")
    assert old.status == "Finished" and old.reuse_key is None
    store.create_workspace(WorkspaceInfo(id="w", name="ws1", subscription_id="s", resource_group="g"))
    store.create_run(RunInfo(id="new", workspace_id="w", experiment="e", kind="step",
                             status="Finished", reuse_key="k" * 64))
    assert store.find_reusable_run("w", "k" * 64).id == "new"


def test_dataset_versions(home):
    from amlocal.store import open_store
    from amlocal.store.entities import DatasetInfo
    store = open_store()
    first = store.register_dataset(DatasetInfo("w", "sales", 0, "id1", {"a": 1}))
    assert first.version == 1
    assert store.register_dataset(DatasetInfo("w", "sales", 0, "id1", {"a": 1})).version == 1
    with pytest.raises(UserErrorException, match="create_new_version=True"):
        store.register_dataset(DatasetInfo("w", "sales", 0, "id2", {"a": 2}))
    assert store.register_dataset(DatasetInfo("w", "sales", 0, "id2", {"a": 2}),
                                  create_new_version=True).version == 2
    assert store.get_dataset("w", "sales").id == "id2"
    assert store.get_dataset("w", "sales", 1).id == "id1"
    assert store.get_dataset_by_id("w", "id1").version == 1
    assert [d.version for d in store.list_datasets("w")] == [2, 1]
