"""20 submissions at once from 20 processes, on SQLite and on PostgreSQL: each records a pipeline
run with its step runs (as ``record()`` does), bumps a model, a dataset and an environment
version, registers one identical environment and dataset (one version each, however many
register it at once), changes the same experiment's and the same run's tags (read-modify-write
of one row) and settles its runs in one batch. Nothing is lost, nothing is duplicated, no process
fails."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from amlocal.errors import UserErrorException

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL (tests/conftest.py)

PROCESSES = 20
STEPS = 3

SUBMITTER = r"""
import os, sys, time, uuid
from pathlib import Path
from amlocal.store import open_store
from amlocal.store.entities import (DatasetInfo, MetricRecord, ModelInfo, RunInfo,
                                    WorkspaceInfo, utcnow)
from amlocal.store.sql_batch import RunChange

i, go = int(sys.argv[1]), Path(sys.argv[2])
store = open_store()
store.get_run("shared")         # connected: the registrations below race as closely as can be
while not go.exists():          # every process starts its writes at the same moment
    time.sleep(0.001)
same_env = store.register_environment("w1", "same-env", {"python": "3.11"})
same_data = store.register_dataset(DatasetInfo("w1", "same-data", 0, "same-id", {"d": 1}))
assert (same_env.version, same_data.version) == (1, 1), (same_env, same_data)
ws = store.create_workspace(WorkspaceInfo(id="w1", name="ws", subscription_id="s",
                                          resource_group="g"))
run_id = f"pipe-{i}"
store.create_run(RunInfo(id=run_id, workspace_id=ws.id, experiment="exp", kind="pipeline",
                         status="NotStarted", definition={"i": i}))
steps = [f"{run_id}-s{s}" for s in range(int(sys.argv[3]))]
for s, step in enumerate(steps):
    store.create_run(RunInfo(id=step, workspace_id=ws.id, experiment="exp", kind="step",
                             status="NotStarted", parent_id=run_id, name=f"step{s}",
                             properties={"azureml.nodeid": str(s)}))
store.log_metrics(steps[0], [MetricRecord("loss", "scalar", float(k), k, utcnow())
                             for k in range(50)])
source = Path(sys.argv[4]) / f"model-{i}.txt"
source.write_text(str(i))
model = store.register_model(ModelInfo(workspace_id=ws.id, name="model", version=0,
                                       path="", run_id=steps[-1]), source)
data = store.register_dataset(DatasetInfo(ws.id, "data", 0, f"id-{i}", {"i": i}),
                              create_new_version=True)
env = store.register_environment(ws.id, "env", {"i": i})
store.update_experiment(ws.id, "exp", set_tags={f"t{i}": str(i)})
store.set_tags("shared", {f"t{i}": str(i)})
store.add_properties("shared", {f"p{i}": str(i)})
store.apply_run_changes(
    [RunChange(step, fields={"status": "Completed"}, properties={"done": "1"}) for step in steps]
    + [RunChange(run_id, fields={"status": "Completed"},
                 properties={"model_version": str(model.version)})])
print(model.version, data.version, env.version)
"""


def test_twenty_concurrent_submissions_stay_clean(home, tmp_path, store_kind):
    from amlocal.store import open_store
    from amlocal.store.entities import RunInfo, WorkspaceInfo
    store = open_store()            # migrated once here; the processes race on everything else
    store.create_workspace(WorkspaceInfo(id="w1", name="ws", subscription_id="s",
                                         resource_group="g"))
    store.create_run(RunInfo(id="shared", workspace_id="w1", experiment="shared",
                             kind="script"))
    go = tmp_path / "go"
    sources = tmp_path / "sources"
    sources.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", SUBMITTER, str(i), str(go), str(STEPS),
                               str(sources)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(PROCESSES)]
    time.sleep(1.5)                 # let the interpreters start and wait at the line
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    failed = [(p.returncode, err[-2000:]) for p, (_, err) in zip(procs, outputs) if p.returncode]
    assert not failed, failed

    versions = [tuple(map(int, out.split())) for out, _ in outputs]
    for kind, got in zip(("model", "dataset", "environment"), zip(*versions)):
        assert sorted(got) == list(range(1, PROCESSES + 1)), (kind, got)
    assert sorted(m.version for m in store.list_models("w1", "model")) == \
        list(range(1, PROCESSES + 1))
    assert len(store.list_environments("w1")) == PROCESSES + 1      # and "same-env" once
    assert len(store.list_datasets("w1")) == PROCESSES + 1            # and "same-data" once
    for m in store.list_models("w1", "model"):      # every version has its own files
        run = store.get_run(m.run_id)
        assert store.get_run(run.parent_id).properties["model_version"] == str(m.version)

    pipelines = store.list_runs("w1", "exp", top_level=True)
    assert sorted(r.id for r in pipelines) == sorted(f"pipe-{i}" for i in range(PROCESSES))
    assert store.count_runs("w1", "exp") == PROCESSES * (STEPS + 1)
    assert {r.status for r in store.list_runs("w1", "exp")} == {"Completed"}
    assert all(len(store.list_runs("w1", parent_id=r.id)) == STEPS for r in pipelines)
    assert len(store.list_experiments("w1")) == 2
    assert len(store.find_workspaces("ws")) == 1
    expected = {f"t{i}": str(i) for i in range(PROCESSES)}
    assert store.get_experiment("w1", "exp").tags == expected        # no lost update
    shared = store.get_run("shared")
    assert shared.tags == expected
    assert shared.properties == {f"p{i}": str(i) for i in range(PROCESSES)}
    for i in range(PROCESSES):
        assert len(store.get_metric_records(f"pipe-{i}-s0")) == 50


def test_an_identical_registration_racing_another_is_answered_its_version(home, monkeypatch):
    """The first look (outside the write) may miss a version another process is writing: the
    write itself looks again, under its lock, and answers that version instead of a copy."""
    from amlocal.store import open_store
    from amlocal.store.entities import DatasetInfo
    store = open_store()
    first_env = store.register_environment("w1", "env", {"python": "3.11"})
    first_data = store.register_dataset(DatasetInfo("w1", "data", 0, "id-1", {"d": 1}))
    monkeypatch.setattr(store, "get_environment", lambda *a, **k: None)  # as if not yet seen
    monkeypatch.setattr(store, "get_dataset", lambda *a, **k: None)
    assert store.register_environment("w1", "env", {"python": "3.11"}) == first_env
    assert store.register_dataset(DatasetInfo("w1", "data", 0, "id-1", {"d": 1})) == first_data
    with pytest.raises(UserErrorException, match="create_new_version=True"):
        store.register_dataset(DatasetInfo("w1", "data", 0, "id-2", {"d": 2}))
    assert store.register_environment("w1", "env", {"python": "3.12"}).version == 2
