"""A warm Apply SQL Transformation worker: runs INSIDE a step's container for a pipeline web
service, as :mod:`amlocal._runtime.studio_worker` does for Execute Python Script (same socket,
secret, wire format, processes and answers; see there).

``python -m amlocal._runtime.apply_sql_worker --socket PATH [--dynamic t1 ...] STEP-ARGS...``
where STEP-ARGS are the step's own arguments (``--t1 ... --result ...``, see
:mod:`amlocal._runtime.apply_sql`). At start it parses the script once and reads the *static*
inputs (those not listed with ``--dynamic``) into a template database; each call gets a new
in-memory database copied from the template (SQLite's backup), the request's tables loaded
into it, the script run, and the output table answered (or 422 with the statement and SQLite's
message; the same message goes to the container's log). The template is made at start (so a
static table that cannot be loaded stops the worker there, with its message in the log) and
again in each forked serving process on its first call (an SQLite connection does not cross a
fork).
Only the standard library is imported at module level.
"""
from __future__ import annotations

import os
import sqlite3
import sys
import threading

from . import apply_sql, studio_worker
from .._engine.sql_script import PORTS, SqlScriptError, parse_script
from .._engine.worker_wire import check_table, frame_to_ipc, frame_to_table, table_to_json


class SqlWorker:
    """The parsed script, the static tables and the call."""

    ports = PORTS

    def __init__(self, args, dynamic: list[str], workdir: str = "."):
        with open(os.path.join(workdir, args.script), encoding="utf-8") as handle:
            text = handle.read()
        try:
            self.script = parse_script(text)
        except SqlScriptError as exc:
            raise apply_sql.SqlUserError(str(exc)) from None
        self.dynamic = list(dynamic)
        static = [p for p in PORTS if p not in self.dynamic]
        self.static = apply_sql.read_tables(args, static)
        self.given = {p for p in PORTS if getattr(args, p)}   # every connected port
        self.indexes: dict = {}     # column indexes of request frames, by their names
        self._template: tuple[int, sqlite3.Connection] | None = None
        self._lock = threading.Lock()
        self.template()             # the static tables load (and fail) at start

    def template(self) -> sqlite3.Connection:
        """This process's database holding the static tables."""
        with self._lock:
            if self._template is None or self._template[0] != os.getpid():
                conn = apply_sql.connect()
                for port, frame in self.static.items():
                    if frame is not None:
                        apply_sql.load_table(conn, port, frame)
                self._template = (os.getpid(), conn)
            return self._template[1]

    def call(self, frames: dict, answer: str = "arrow") -> bytes:
        """The output table as Arrow IPC bytes (``answer="table"``: as the answer's JSON
        table). Raises StudioUserError (SqlUserError) naming the failing statement."""
        conn = apply_sql.connect()
        try:
            template = self.template()
            with self._lock:
                template.backup(conn)
            tables = {p: frames.get(p) for p in PORTS if p in self.given and p in self.dynamic}
            try:
                frame = apply_sql.run_script(self.script, tables, conn)
            except apply_sql.SqlUserError as exc:
                print(f"Error: {exc}", file=sys.stderr, flush=True)
                raise
        finally:
            conn.close()
        try:
            if answer == "table":
                check_table(frame)
                return table_to_json(frame_to_table(frame))
            return frame_to_ipc(frame)
        except Exception as exc:
            raise apply_sql.SqlUserError(
                f"the output table cannot be converted ({type(exc).__name__}: {exc})") from exc


def _build(args, dynamic):
    try:
        return SqlWorker(args, dynamic)
    except apply_sql.SqlUserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    return studio_worker.worker_main("amlocal-apply-sql-worker", PORTS, apply_sql._parser,
                                     _build, argv)


if __name__ == "__main__":
    sys.exit(main())
