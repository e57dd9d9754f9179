"""Step reuse that explains itself.

A step's reuse key is the sha256 of its components: the environment's lock digest, the digest of
its whole source snapshot, the script, the resolved arguments and parameter values, the content
digests of its inputs (a changed file behind an unchanged dataset definition is a change), its
outputs' destinations and its ``version``. This is stricter than Azure's key, which ignores data
changes behind a dataset definition. An unchanged key reuses the newest run that ran with it;
``allow_reuse=False`` and ``regenerate_outputs=True`` force a run.

Deliberate difference from Azure: a step that declares no outputs always runs. Reuse hands the
previous run's outputs to the next steps; a step without outputs exists for its side effects
(registering a model, logging metrics), which reusing it would silently skip.

Only step runs the runner recorded are reused: the runner marks each step run it executes with
the property ``amlocal.recorded_by_runner`` (a step can never add ``amlocal.*`` properties, nor
create runs with a reuse key), so a run a step planted is never taken for an earlier run.

Every step run records its
components and the decision, so ``amlocal run show ID --reuse`` can say, for a step that ran
although an earlier run of it existed, which parts of the key changed.
"""
from __future__ import annotations

import hashlib
import json

from .._status import RECORDED_PROPERTY, RunStatus
from .graph import Node

COMPONENTS = ("environment", "source", "script", "arguments", "parameters", "inputs", "outputs",
              "sandbox", "version")


def reuse_key(components: dict) -> str:
    canonical = json.dumps({k: components.get(k) for k in COMPONENTS}, sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def changed_parts(current: dict, previous: dict) -> list[str]:
    """The components (and, inside inputs and parameters, the names) that differ."""
    changed = []
    for key in COMPONENTS:
        now, before = current.get(key), previous.get(key)
        if now == before:
            continue
        if isinstance(now, dict) and isinstance(before, dict):
            names = sorted(set(now) | set(before))
            changed += [f"{key}.{n}" for n in names if now.get(n) != before.get(n)]
        else:
            changed.append(key)
    return changed


def recorded_by_runner(info) -> bool:
    """Whether the runner recorded this step run (a run a step created never is)."""
    return info.kind == "step" and (info.properties or {}).get(RECORDED_PROPERTY) == "true"


def find_reusable(store, workspace_id: str, key: str):
    """The newest Finished step run with reuse key ``key`` that ran itself and that the runner
    recorded; runs carrying the key without the runner's mark are ignored."""
    match = store.find_reusable_run(workspace_id, key)
    if match is None or recorded_by_runner(match):
        return match
    for info in store.iter_runs(workspace_id, kind="step"):
        if (info.reuse_key == key and info.status == RunStatus.FINISHED and info.reused_from is None
                and recorded_by_runner(info)):
            return info
    return None


def previous_run(store, step, node_name: str):
    """The newest earlier run of the same step (same experiment, same step name) that recorded
    its reuse components: what a rerun is compared with."""
    for info in store.iter_runs(step.workspace_id, step.experiment, kind="step"):
        if (info.name == node_name and info.parent_id != step.parent_id
                and (info.definition or {}).get("reuse", {}).get("components")):
            return info
    return None


def decide(store, step, node: Node, components: dict, *, regenerate: bool) -> dict:
    """Whether to reuse: the decision record stored on the step run."""
    key = reuse_key(components)
    record = {"key": key, "components": components, "decision": "ran", "reused_from": None,
              "changed": [], "compared_with": None}
    if regenerate:
        record["reason"] = "regenerate_outputs=True was given for this run"
        return record
    if not node.allow_reuse:
        record["reason"] = "allow_reuse=False on this step"
        return record
    if not node.outputs:
        record["reason"] = ("the step declares no outputs, so there is nothing to reuse (its side "
                            "effects, such as Model.register, would be lost)")
        return record
    match = find_reusable(store, step.workspace_id, key)
    if match is not None:
        record.update(decision="reused", reused_from=match.id,
                      reason=f"nothing changed since run {match.id}")
        return record
    before = previous_run(store, step, node.name)
    if before is None:
        record["reason"] = "first run of this step"
        return record
    previous = before.definition["reuse"]
    record["compared_with"] = before.id
    record["changed"] = changed_parts(components, previous["components"])
    if record["changed"]:
        record["reason"] = "changed since run " + before.id + ": " + ", ".join(record["changed"])
    else:  # same key, but that run did not finish or its outputs are gone
        record["reason"] = f"run {before.id} has the same key but cannot be reused ({before.status})"
    return record
