"""The tags/properties filters of ``get_runs`` and ``list_by_compute``: checked when asked
for, matched against each run's record; and the paged read of a run list behind those
generators. A leaf, shared by Experiment and Run."""
from __future__ import annotations


def _run_filter(field: str, value):
    """A tags/properties filter of ``get_runs``, checked now (as Azure builds its query at call
    time): a str means "this key exists", a dict "each key has this value". Deliberate
    difference: a list or tuple means "each of these keys exists" (Azure raises ValueError)."""
    if value is None:
        return None
    if isinstance(value, str):
        return {value: ...}
    if isinstance(value, dict):
        return {str(k): (... if v is ... else None if v is None else str(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and all(isinstance(k, str) for k in value):
        return {k: ... for k in value}
    raise ValueError(f"Unknown filter type for run {field}: {type(value)}")


def _matches(values: dict, wanted: dict | None) -> bool:
    """Whether a run's tags/properties pass a filter from :func:`_run_filter`."""
    if not wanted:
        return True
    return all(k in values and (v is ... or values[k] == v) for k, v in wanted.items())


PAGE = 100      # runs read from the store at a time by the run generators


def _paged(store, workspace_id: str, experiment: str | None = None, **filters):
    """Every run for these filters, newest first, read ``PAGE`` at a time (``Store.iter_runs``)."""
    return store.iter_runs(workspace_id, experiment, page=PAGE, **filters)
