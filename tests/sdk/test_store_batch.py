"""``apply_run_changes``: several run changes in one transaction, all or none (issue 11)."""
from __future__ import annotations

import pytest

from amlocal.errors import UserErrorException

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL (tests/conftest.py)


def _two_runs(store):
    from amlocal.store.entities import RunInfo, WorkspaceInfo
    ws = store.create_workspace(WorkspaceInfo(id="w1", name="w", subscription_id="s",
                                              resource_group="g", location="l",
                                              default_datastore="workspaceblobstore"))
    a = store.create_run(RunInfo(id="a", workspace_id=ws.id, experiment="e", kind="pipeline"))
    b = store.create_run(RunInfo(id="b", workspace_id=ws.id, experiment="e", kind="step",
                                 parent_id="a", properties={"k": "1"}))
    return a, b


def test_changes_land_together(home):
    from amlocal.store import open_store
    from amlocal.store.sql_batch import RunChange
    store = open_store()
    _two_runs(store)
    store.apply_run_changes([
        RunChange("b", fields={"status": "Finished", "reuse_key": "x"}, properties={"p": "2"}),
        RunChange("a", fields={"status": "Finished"})])
    assert store.get_run("a").status == "Finished"
    b = store.get_run("b")
    assert (b.status, b.reuse_key, b.properties) == ("Finished", "x", {"k": "1", "p": "2"})


def test_one_refused_change_leaves_every_run_as_it_was(home):
    from amlocal.store import open_store
    from amlocal.store.sql_batch import RunChange
    store = open_store()
    _two_runs(store)
    with pytest.raises(UserErrorException, match="cannot be changed once added"):
        store.apply_run_changes([RunChange("a", fields={"status": "Finished"}),
                                 RunChange("b", properties={"k": "changed"})])
    assert store.get_run("a").status == "NotStarted"
    assert store.get_run("b").properties == {"k": "1"}


def test_bad_fields_and_statuses_are_refused_before_anything_is_written():
    from amlocal.store.sql_batch import RunChange
    with pytest.raises(ValueError, match="cannot update run fields"):
        RunChange("a", fields={"tags": {}})
    with pytest.raises(ValueError):
        RunChange("a", fields={"status": "Done"})
