"""`amlocal run list` shows the newest 10 runs by default (az ml's ``--last`` default), says
when there are more, and ``--last N`` / ``--last 0`` widen it; runs written straight into the
real store."""
from __future__ import annotations

import json

import pytest

WS = ["-w", "listws", "-g", "listrg"]
RUNS = 25


@pytest.fixture
def listed(amlocal):
    assert amlocal("workspace", "create", *WS).exit_code == 0
    from amlocal.core.workspace import Workspace
    from amlocal.store.entities import RunInfo
    ws = Workspace.get("listws", resource_group="listrg")
    for i in range(RUNS):
        created = f"2026-02-01T00:00:{i:02d}.000000Z"
        ws._store.create_run(RunInfo(id=f"run{i:02d}", workspace_id=ws._id, experiment="e",
                                     kind="pipeline", status="Finished", created_at=created,
                                     started_at=created, ended_at=created))
        ws._store.create_run(RunInfo(id=f"run{i:02d}-step", workspace_id=ws._id, experiment="e",
                                     kind="step", status="Finished", parent_id=f"run{i:02d}",
                                     created_at=created))
    return ws


def _ids(out: str) -> list[str]:
    return [r["runId"] for r in json.loads(out)]


def test_the_newest_ten_with_a_footer_when_more_exist(amlocal, listed):
    table = amlocal("run", "list", *WS)
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[1].split()[0] == "run24" and sum("run" in line for line in lines) == 11
    assert lines[-1] == ("Showing the newest 10 of 25 runs; --last N for more (--last 0 for "
                         "all).")
    assert _ids(amlocal("run", "list", *WS, "-o", "json").stdout) == \
        [f"run{i:02d}" for i in range(24, 14, -1)]


def test_last_widens_or_narrows_the_list(amlocal, listed):
    assert len(_ids(amlocal("run", "list", "--last", "0", *WS, "-o", "json").stdout)) == RUNS
    assert _ids(amlocal("run", "list", "--last", "2", *WS, "-o", "json").stdout) == \
        ["run24", "run23"]
    everything = amlocal("run", "list", "--last", "30", *WS)
    assert "Showing the newest" not in everything.stdout
    children = _ids(amlocal("run", "list", "--include-children", "--last", "4", *WS,
                            "-o", "json").stdout)
    assert children == ["run24-step", "run24", "run23-step", "run23"]
    footer = amlocal("run", "list", "--include-children", "--last", "4", *WS).stdout
    assert "Showing the newest 4 of 50 runs" in footer
