"""Combining the copies of a ParallelRunStep that ran on several nodes, on the host, after every
copy has exited (the runner calls :func:`finish_copies` for a step of ``node_count > 1``).

Each copy (``amlocal._runtime.parallel_run.ranks``) left in the step's working directory
``.amlocal_parallel_run/rank<k>.json`` (its counts, limits, outcome), ``.amlocal_parallel_run/
node<k>/error.txt`` and ``progress.txt``, and in the output folder its append_row part
``.<file name>.rank<k>.partial``. Here the counts are summed, ``error_threshold``,
``allowed_failed_count`` and ``allowed_failed_percent`` are applied to the sum, the parts are
merged in rank order into the output file when the job succeeded (and removed in every case),
and the logs a single-node job writes are written: ``logs/job_result.txt`` (with the summed
progress line), ``logs/job_error.txt``, ``logs/user/error.txt`` and
``logs/job_progress_overview.txt`` (the copies' lines, in rank order). A step without these
files (any other step) is left as it is.

What the copies wrote is untrusted (a step wrote it): the files are read as JSON of the expected
shape, the output folder must be one of the step's own writable mounts, file names must be plain
names, and links are not followed; anything else fails the step, saying what was wrong.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

HANDOFF = ".amlocal_parallel_run"
_COUNTS = ("done", "succeeded", "given_up", "failed_attempts", "items_ok", "items_failed")
_PLAIN_NAME = re.compile(r"^[^/\\\0]+$")


class _Bad(Exception):
    pass


def _read_state(path: Path, rank: int, count: int) -> dict:
    if path.is_symlink():
        raise _Bad(f"{path.name} is a link")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise _Bad(f"{path.name} is not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("rank") != rank or data.get("count") != count:
        raise _Bad(f"{path.name} is not the hand-over of copy {rank} of {count}")
    counts = data.get("counts")
    if not isinstance(counts, dict) or not all(
            isinstance(counts.get(k), int) and counts[k] >= 0 for k in _COUNTS):
        raise _Bad(f"{path.name}: 'counts' must hold whole numbers >= 0 for {', '.join(_COUNTS)}")
    if not isinstance(data.get("failing"), list) or not isinstance(data.get("total"), int):
        raise _Bad(f"{path.name}: 'failing' must be a list and 'total' a whole number")
    limits = data.get("limits")
    if not isinstance(limits, dict):
        raise _Bad(f"{path.name}: 'limits' must be an object")
    name = data.get("append_row_file_name")
    if data.get("append_row") and (not isinstance(name, str) or not _PLAIN_NAME.match(name)
                                   or name in (".", "..")):
        raise _Bad(f"{path.name}: append_row_file_name {name!r} is not a plain file name")
    return data


def _exceeded(limits: dict, total: int, items_failed: int, failing: int) -> str | None:
    """Why the summed counts fail the job (the limits of ParallelRunConfig), or None."""
    threshold = limits.get("error_threshold")
    if isinstance(threshold, int) and threshold >= 0 and items_failed > threshold:
        return f"{items_failed} failed items exceed error_threshold={threshold}"
    allowed = limits.get("allowed_failed_count")
    if isinstance(allowed, int) and allowed >= 0 and failing > allowed:
        return f"{failing} failed mini-batches exceed allowed_failed_count={allowed}"
    percent = limits.get("allowed_failed_percent")
    if isinstance(percent, (int, float)) and total and 100.0 * failing / total > percent:
        return (f"{100.0 * failing / total:.1f}% failed mini-batches exceed "
                f"allowed_failed_percent={percent:g}")
    return None


def _host_folder(container_path, mounts) -> Path | None:
    """The host folder of one of the step's writable mounts at ``container_path``."""
    for mount in mounts:
        if not mount.read_only and mount.target.rstrip("/") == str(container_path).rstrip("/"):
            return Path(mount.source)
    return None


def _append(target: Path, source: Path) -> None:
    if not source.is_file() or source.is_symlink():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "ab") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def finish_copies(workdir: Path, mounts, count: int, exit_code: int) -> tuple[int, list[str]]:
    """Combine the ``count`` copies of a ParallelRunStep whose working directory is ``workdir``
    and whose mounts (``StepSpec.mounts``) hold its output folder; ``exit_code`` is the step's
    (the first non-zero of its copies). Returns the step's exit status (non-zero when the
    combined job failed) and lines for its log. A step that left no hand-over is untouched."""
    folder = Path(workdir) / HANDOFF
    if count < 2 or not folder.is_dir() or folder.is_symlink():
        return exit_code, []
    logs = Path(workdir) / "logs"
    if logs.is_symlink():
        return (exit_code or 1), ["[ParallelRunStep] FAILED: logs/ is a link: the copies' "
                                  "results were not combined"]
    states: dict[int, dict] = {}
    error = None
    try:
        for rank in range(count):
            path = folder / f"rank{rank}.json"
            if path.exists() or path.is_symlink():
                states[rank] = _read_state(path, rank, count)
    except _Bad as exc:
        error = f"the copies' hand-over is not valid: {exc}"
    missing = [r for r in range(count) if r not in states]
    totals = {k: sum(s["counts"][k] for s in states.values()) for k in _COUNTS}
    failing = len({str(b) for s in states.values() for b in s["failing"]})
    total = max([s["total"] for s in states.values()] or [0])
    first = states[min(states)] if states else {}
    if error is None:
        error = next((f"node{r} (host {s.get('host')}) failed: {s.get('error')}"
                      for r, s in sorted(states.items()) if s.get("state") == "failed"), None)
    if error is None and missing:
        error = (f"node{', node'.join(map(str, missing))} handed nothing over (the copy ended "
                 f"before finishing, exit status {exit_code})")
    if error is None:
        error = _exceeded(first.get("limits") or {}, total, totals["items_failed"], failing)
    if error is None and exit_code != 0:
        error = f"a copy exited with status {exit_code}"
    notes = []
    # the output: the parts merged in rank order (success), removed in every case
    out = None
    if first.get("append_row"):
        out = _host_folder(first.get("output"), mounts)
        if out is None and error is None:
            error = (f"the output folder {first.get('output')!r} the copies name is not one of "
                     "the step's writable folders")
    if out is not None and out.is_dir():
        name = first["append_row_file_name"]
        parts = [out / f".{name}.rank{r}.partial" for r in range(count)]
        if error is None:
            temp = out / f".{name}.partial"
            with open(temp, "wb") as merged:
                for part in parts:
                    if part.is_file() and not part.is_symlink():
                        with open(part, "rb") as src:
                            shutil.copyfileobj(src, merged)
            os.replace(temp, out / name)
            notes.append(f"[ParallelRunStep] wrote {name} ({totals['items_ok']} rows from "
                         f"{count} nodes)")
        for part in parts:
            if part.is_file() or part.is_symlink():
                part.unlink()
    # the logs, as a single-node job writes them
    for rank in range(count):
        node = folder / f"node{rank}"
        if node.is_dir() and not node.is_symlink():
            _append(logs / "user" / "error.txt", node / "error.txt")
            _append(logs / "job_progress_overview.txt", node / "progress.txt")
    retrying = failing - totals["given_up"]
    line = (f"progress: {totals['done']}/{total} mini-batches done, {totals['given_up']} failed"
            f"{f', {retrying} retrying' if retrying > 0 else ''}; items: {totals['items_ok']} "
            f"succeeded, {totals['items_failed']} failed; on {count} nodes")
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "job_result.txt", "a", encoding="utf-8") as f:
        f.write(f"{_stamp()} " + (f"Job failed: {error}" if error else "Job succeeded.")
                + f"\n{line}\n")
    if error:
        with open(logs / "job_error.txt", "a", encoding="utf-8") as f:
            f.write(f"{_stamp()} {error}\n")
    notes.append(f"[ParallelRunStep] {line}")
    notes.append(f"[ParallelRunStep] FAILED: {error}" if error else
                 f"[ParallelRunStep] job succeeded on {count} nodes")
    shutil.rmtree(folder, ignore_errors=True)
    return (exit_code or (1 if error else 0)), notes
