"""One worker process of a parallel run (forked by :mod:`.nodes`).

It sends its stdout/stderr to ``logs/user/stdout/<node>/<process>.std{out,err}.txt``, makes
``azureml_user.parallel_run`` importable, imports the entry script once, calls its ``init()``
once (optional), then ``run(mini_batch)`` for every mini-batch the master sends, and its
``shutdown()`` (optional) when told to stop. Messages to the master (tuples over a Pipe):
``("ready", pid)``, ``("init_failed", reason, traceback)``, ``("done", Outcome)`` and, when
told to stop, ``("stopped", problems)`` after ``shutdown()`` and flushing the metrics the entry
script logged (a metric that cannot be written fails the job: nothing is dropped silently).

DataFrames returned by ``run()`` go to the append_row file one row per line, without header or
index, fields separated by one space (strings holding a space are quoted, as ``to_csv`` quotes);
other sequences one element per line as ``str(element)``.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from .batches import MiniBatch, TableReader
from .entry_script import WorkerIdentity, install, set_current
from .progress import Outcome, append, stamp, worker_paths
from .settings import JobSettings


def _redirect(paths: dict) -> None:
    for key, fd in (("stdout", 1), ("stderr", 2)):
        paths[key].parent.mkdir(parents=True, exist_ok=True)
        target = os.open(paths[key], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115


def load_entry_script(path: str):
    """Import the entry script as a module named after its file (its folder on sys.path)."""
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise FileNotFoundError(f"entry_script '{path}' is not in the step's source directory")
    folder = os.path.dirname(full)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = Path(full).stem
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise AttributeError(f"entry_script '{path}' defines no run(mini_batch) function")
    return module


def result_lines(result, want_text: bool) -> tuple[int, str]:
    """(elements or rows returned, their append_row text). Raises TypeError for anything but a
    list, tuple, array or DataFrame."""
    if hasattr(result, "to_csv") and hasattr(result, "columns"):       # a pandas DataFrame
        text = result.to_csv(sep=" ", header=False, index=False, lineterminator="\n") \
            if want_text and len(result) else ""
        return len(result), text
    if isinstance(result, (str, bytes, dict)) or result is None or not hasattr(result, "__len__"):
        raise TypeError("run() must return a list, an array or a pandas DataFrame with one "
                        "element or row per successfully processed input item, not "
                        f"{type(result).__name__}")
    if not want_text:
        return len(result), ""
    return len(result), "".join(f"{element}\n" for element in result)


def serve(conn, settings: JobSettings, identity: WorkerIdentity) -> None:
    """The worker's life (runs in the forked child; never returns normally)."""
    code = 0
    try:
        code = _serve(conn, settings, identity)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _serve(conn, settings: JobSettings, identity: WorkerIdentity) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # not the master's handler
    paths = worker_paths(identity.node, identity.process)
    _redirect(paths)
    set_current(identity)
    install()
    where = f"{identity.node}/{identity.process}"
    syslog = paths["sys"]
    append(syslog, f"{stamp()} worker {where} started, pid {os.getpid()}")
    try:
        started = time.perf_counter()
        module = load_entry_script(settings.entry_script)
        init = getattr(module, "init", None)
        if callable(init):
            init()
        append(syslog, f"{stamp()} entry script imported and init() done in "
                       f"{time.perf_counter() - started:.3f} s")
    except BaseException as exc:  # noqa: BLE001 - the user's error, reported to the master
        detail = traceback.format_exc()
        append(paths["error"], f"{stamp()} init failed:\n{detail}")
        conn.send(("init_failed", f"{type(exc).__name__}: {exc}", detail))
        return 1
    conn.send(("ready", os.getpid()))
    tables = TableReader()
    run = module.run
    while True:
        batch: MiniBatch | None = conn.recv()
        if batch is None:
            break
        conn.send(("done", _one(run, batch, settings, tables, where)))
    problems = []
    shutdown = getattr(module, "shutdown", None)
    try:
        if callable(shutdown):
            shutdown()
    except BaseException as exc:  # noqa: BLE001 - the user's error, reported to the master
        append(paths["error"], f"{stamp()} shutdown() failed:\n{traceback.format_exc()}")
        problems.append(f"shutdown() of the entry script failed in worker {where}: "
                        f"{type(exc).__name__}: {exc}")
    problems += _flush_metrics(where)
    conn.send(("stopped", problems))
    append(syslog, f"{stamp()} worker {where} stopped")
    return 1 if problems else 0


def _flush_metrics(where: str) -> list[str]:
    """Write what the entry script logged to its run (os._exit skips the exit-time flush)."""
    from amlocal.core._metrics import flush_all
    return [f"{f.count} metric value(s) logged in worker {where} to run {f.run_id} could not "
            f"be written: {f.error}" for f in flush_all()]


def _one(run, batch: MiniBatch, settings: JobSettings, tables: TableReader, where: str) -> Outcome:
    started = time.perf_counter()
    items = len(batch.files)
    try:
        data = tables.frame(batch) if batch.tabular else list(batch.files)
        items = len(data)
        succeeded, text = result_lines(run(data), settings.append_row)
    except BaseException as exc:  # noqa: BLE001 - a failed attempt, counted by the master
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Outcome(batch.id, False, max(items, 1), error=f"{type(exc).__name__}: {exc}",
                       detail=traceback.format_exc(),
                       seconds=time.perf_counter() - started, worker=where)
    return Outcome(batch.id, True, items, succeeded, text,
                   seconds=time.perf_counter() - started, worker=where)
