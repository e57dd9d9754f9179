"""A run whose every step is reused is recorded by the submission itself, with no runner.

An unchanged resubmission (every step ``allow_reuse=True``, nothing changed) starts no
container; before this it still paid for a runner process. Here the submitting process plans
each step in dependency order exactly as the runner would (the same environment digest, the
same :func:`plan.plan_step`, the same :func:`reuse.decide`), and only when every step's decision
is "reused" and the reused outputs still exist does it record the run: every step run Finished
with ``reused_from``, its reuse record and properties as the runner writes them, the run
Finished, in one transaction. Anything else (one step must run, an environment not locked
yet, a compute target that cannot tell its environment's digest without preparing it, any
error) leaves nothing written and the runner starts as usual, so errors are reported where
they always were.
"""
from __future__ import annotations

import os
import shutil

from .._status import PIPELINE_LOG
from ..store.entities import utcnow


def _order(graph) -> list:
    nodes = {n.id: n for n in graph.steps}
    done: set = set()
    order: list = []
    while len(order) < len(nodes):
        ready = [n for n in graph.steps if n.id not in done and all(d in done for d in n.depends_on)]
        if not ready:
            return []     # not a DAG: the runner reports it
        for node in ready:
            done.add(node.id)
            order.append(node)
    return order


def record_if_all_reused(store, run_id: str) -> bool:
    """Record run ``run_id`` as entirely reused and return True, or write nothing and return
    False (the caller starts the runner)."""
    if not hasattr(store, "apply_run_changes"):
        return False
    from .runner import Runner
    try:
        runner = Runner(store, run_id)
    except Exception:  # noqa: BLE001 - the runner reports whatever this is
        return False
    if runner.is_script or runner.regenerate or not runner.graph.steps:
        return False
    try:
        planned = _plan_all(runner)
    except Exception:  # noqa: BLE001 - the runner plans again and reports it
        planned = None
    finally:
        for step in runner.step_runs.values():
            for leftover in (runner.work / f"{step.id}-inputs", runner.work / f"{step.id}-outputs"):
                shutil.rmtree(leftover, ignore_errors=True)
    if not planned:
        return False
    from ..store.sql_batch import RunChange
    now = utcnow()
    changes = [RunChange(step.id, fields={
        "status": runner.done_status.value, "started_at": now, "ended_at": now,
        "definition": definition, "reuse_key": record["key"], "reused_from": record["reused_from"]},
        properties=properties) for step, properties, definition, record in planned]
    changes.append(RunChange(run_id, fields={"status": runner.done_status.value,
                                             "started_at": now, "ended_at": now}))
    store.apply_run_changes(changes)
    lines = "".join(
        f"[{step.name}] reused the outputs of step run {record['reused_from']}: nothing changed, "
        "no container started\n" for step, _, _, record in planned)
    lines += (f"[pipeline] every step reused: recorded at submission, no runner started\n"
              f"[pipeline] PipelineRun {run_id} {runner.done_status.value}\n")
    store.append_artifact(run_id, PIPELINE_LOG, lines.encode("utf-8", "replace"))
    return True


def _plan_all(runner) -> list | None:
    from amlocal.compute import EnvironmentSpec, get_backend
    from .outputs import OutputLocation
    from .plan import plan_step
    from .reuse import decide
    from .runner import step_definition, step_properties
    planned = []
    resolved_by_env: dict = {}
    for node in _order(runner.graph):
        if not node.allow_reuse or not node.outputs or node.kind == "data_transfer":
            return None   # a DataTransferStep decides its reuse in the runner
        backend = get_backend(node.compute.kind)
        resolve = getattr(backend, "resolve", None)
        if resolve is None:
            return None
        key = (backend.kind, repr(sorted(node.environment.items())))
        if key not in resolved_by_env:
            resolved_by_env[key] = resolve(EnvironmentSpec.from_dict(node.environment),
                                           log=lambda line: None)
        resolved = resolved_by_env[key]
        if resolved is None:
            return None
        step = runner.step_runs[node.id]
        plan = plan_step(node, step.id, params=runner.params, outputs=runner.outputs,
                         datastore_info=runner._datastore_info,
                         resolve_datastore=runner._resolve_datastore, work=runner.work)
        record = decide(runner.store, step, node, plan.components(node, resolved.digest),
                        regenerate=False)
        if record["decision"] != "reused":
            return None
        earlier = runner.store.get_run(record["reused_from"])
        locations = {n: OutputLocation(**d)
                     for n, d in (earlier.definition.get("outputs") or {}).items()}
        if any(loc.local is not None and not os.path.isdir(loc.local) for loc in locations.values()):
            return None
        runner.outputs.update(locations)
        definition = {**step_definition(node, step, plan, record),
                      "outputs": {n: loc.to_dict() for n, loc in locations.items()}}
        properties = step_properties(node, resolved)
        planned.append((step, properties, definition, record))
    return planned or None
