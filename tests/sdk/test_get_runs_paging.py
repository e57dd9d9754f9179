"""``Experiment.get_runs`` (and ``Run.list``) over more runs than one page: a lazy generator
reading the real store a page at a time, newest first, keeping Azure's filters (type, tags,
properties, status, include_children) across page boundaries. Records are written straight to
the store (no runner)."""
from __future__ import annotations

import itertools

import pytest

from amlocal.core._run_filters import PAGE

PIPELINES = PAGE + 30          # more than one page of top-level runs


def _stamp(i: int) -> str:
    return f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000000Z"


@pytest.fixture
def many(workspace):
    """``PIPELINES`` pipeline runs (every 4th Failed, tag ``stage`` alternating, property
    ``batch``), each with 2 step runs; one script run."""
    from amlocal.core import Experiment
    from amlocal.store import schema as t
    from amlocal.store.entities import RunInfo
    store = workspace._store
    Experiment(workspace, "many")
    rows = []
    for i in range(PIPELINES):
        rows.append(RunInfo(id=f"p{i:04d}", workspace_id=workspace._id, experiment="many",
                            kind="pipeline", status="Failed" if i % 4 == 0 else "Finished",
                            created_at=_stamp(10 * i), tags={"stage": "dev" if i % 2 else "prod"},
                            properties={"batch": str(i % 3)},
                            definition={"graph": {"steps": []}}).__dict__)
        for s in range(2):
            rows.append(RunInfo(id=f"p{i:04d}s{s}", workspace_id=workspace._id,
                                experiment="many", kind="step", status="Finished",
                                parent_id=f"p{i:04d}", created_at=_stamp(10 * i + 1 + s),
                                definition={"node_id": f"n{s}"}).__dict__)
    rows.append(RunInfo(id="script", workspace_id=workspace._id, experiment="many",
                        kind="script", status="Completed",
                        created_at=_stamp(10 * PIPELINES + 5)).__dict__)
    with store._engine.begin() as conn:
        conn.execute(t.runs.insert(), rows)
    return Experiment(workspace, "many")


def _pipelines(numbers) -> list[str]:
    return [f"p{i:04d}" for i in numbers]


def test_every_top_level_run_newest_first_across_pages(many):
    runs = many.get_runs()
    assert not isinstance(runs, list) and iter(runs) is runs        # a generator, as on Azure
    ids = [r.id for r in runs]
    assert ids == ["script"] + _pipelines(reversed(range(PIPELINES)))
    from amlocal.core import Run
    assert [r.id for r in Run.list(many)] == ids


def test_it_reads_the_store_a_page_at_a_time(many, monkeypatch):
    store = many.workspace._store
    calls = []
    real = store.list_runs

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)
    monkeypatch.setattr(store, "list_runs", spy)
    first = list(itertools.islice(many.get_runs(), 5))
    assert [r.id for r in first] == ["script"] + _pipelines([129, 128, 127, 126])
    assert len(calls) == 1 and calls[0]["limit"] == PAGE
    assert len(list(many.get_runs())) == PIPELINES + 1
    assert len(calls) == 1 + 2                                      # two pages of PAGE


def test_filters_hold_across_pages(many):
    from amlocal.pipeline.core.run import PipelineRun, StepRun
    failed = [r.id for r in many.get_runs(status="Failed")]
    assert failed == _pipelines(i for i in reversed(range(PIPELINES)) if i % 4 == 0)
    dev = [r.id for r in many.get_runs(tags={"stage": "dev"})]
    assert dev == _pipelines(i for i in reversed(range(PIPELINES)) if i % 2)
    batch = [r.id for r in many.get_runs(properties={"batch": "2"}, type="azureml.PipelineRun")]
    assert batch == _pipelines(i for i in reversed(range(PIPELINES)) if i % 3 == 2)
    steps = list(many.get_runs(type="azureml.StepRun", include_children=True))
    assert len(steps) == 2 * PIPELINES and all(isinstance(s, StepRun) for s in steps)
    assert steps[0].id == f"p{PIPELINES - 1:04d}s1"
    assert all(isinstance(r, PipelineRun) for r in many.get_runs(type="azureml.PipelineRun"))
    assert [r.id for r in many.get_runs(type="azureml.scriptrun")] == ["script"]
    assert list(many.get_runs(type="azureml.NoSuchRun")) == []
    everything = [r.id for r in many.get_runs(include_children=True)]
    assert len(everything) == 3 * PIPELINES + 1 and len(set(everything)) == len(everything)


def test_runs_created_while_iterating_neither_repeat_nor_shift(many):
    from amlocal.store.entities import RunInfo
    runs = many.get_runs()
    head = [next(runs).id for _ in range(PAGE)]                      # the first page, read
    many.workspace._store.create_run(RunInfo(id="newer", workspace_id=many.workspace._id,
                                             experiment="many", kind="script"))
    rest = [r.id for r in runs]
    assert "newer" not in head + rest
    assert head + rest == ["script"] + _pipelines(reversed(range(PIPELINES)))


def test_bad_filters_raise_when_asked_not_when_iterating(many):
    with pytest.raises(ValueError, match="Unknown filter type"):
        many.get_runs(tags=3)
