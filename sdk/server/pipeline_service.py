"""The pipeline web service process: Studio's classic request/response API over warm workers.

``python -m amlocal.server.pipeline_service SERVICE_FOLDER`` (started detached by
``Webservice.deploy_pipeline``). It reads ``SERVICE_FOLDER/service.json`` (written at deploy),
serves HTTP on 127.0.0.1 (``ThreadingHTTPServer``) and, once bound, writes
``SERVICE_FOLDER/endpoint.json`` (``{"port", "pid"}``). The warm worker containers
(:mod:`amlocal._runtime.studio_worker`) are already running; requests never start containers.

``POST /services/NAME/execute`` with ``Authorization: Bearer <key>`` and a body in the classic
form ``{"Inputs": {"input1": {"ColumnNames": [...], "Values": [[...]]}}, "GlobalParameters": {}}``
or the row-records form ``{"Inputs": {"input1": [{"col": v}, ...]}}``. Values are typed by the
input's example schema (``"25"`` becomes 25 in an int64 column; ``null`` and ``""`` are missing
values in numeric columns). ColumnNames must be exactly the schema's columns (any order); every
input must be given. ``GlobalParameters`` is accepted and ignored: the served steps keep the
pipeline parameters of the batch run made at deploy. The
nodes on the web path run in order; a request's inputs reach their worker as typed JSON columns
(no pandas or Arrow on this side for them: the worker builds the one DataFrame the script needs),
a served step's result reaches the next worker as Arrow IPC bytes, and a step whose result is only
answered sends back the answer's table itself (see :mod:`amlocal._engine.worker_wire`). The answer is ``{"Results": {"output1": {"type": "table", "value": {"ColumnNames",
"ColumnTypes", "Values"}}}}``.

ColumnTypes: bool -> ``Boolean``; int8/int16/int32/uint8/uint16 -> ``Int32``; other integers
(nullable ``Int64`` too) -> ``Int64``; floats -> ``Double``; datetimes -> ``DateTime`` (values
ISO 8601 strings); timedeltas -> ``TimeSpan`` (seconds); a column of bytes -> ``Binary`` (values
base64); everything else -> ``String``. Missing values are ``null``.

Errors (``{"error": {"code", "message"}}``): 404 for another path and 401 for a missing or wrong
key, both answered before the body is read; then the limits of :mod:`amlocal._engine.http_guard`
(411 without a Content-Length, 400 for a bad one, 413 for a body over ``AMLOCAL_SERVICE_MAX_BODY``
at deploy, 408 when it is not sent within ``AMLOCAL_SERVICE_READ_TIMEOUT``; 400 for a body that is
not UTF-8 JSON, is nested too deeply or holds NaN/Infinity); 400 naming the field for a value that
does not fit the schema (out of its type's range included); 500 with the user's message when
``azureml_main`` fails. The workers are called over their Unix sockets, on one kept-alive lean
connection per request thread and worker (not HTTP: see :mod:`amlocal._engine.worker_wire`), each
opened with the service's worker secret (``worker.secret``), which the worker checks before it
reads a call.
``GET /`` answers ``{"status": "Healthy"}`` without a key. At most ``concurrency`` requests
(``AMLOCAL_SERVICE_CONCURRENCY`` at deploy, default 4) execute at once; others wait.
"""
from __future__ import annotations

import hmac
import json
import math
import os
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

from amlocal._engine.http_guard import GuardedHandler, HttpError, Limits, guarded, parse_json
from amlocal._engine.served import (ENDPOINT_FILE, KEYS_FILE, SERVICE_FILE,
                                    WORKER_SECRET_FILE, hash_key)
from amlocal._engine.worker_wire import (  # noqa: F401 - column_type and frame_to_table: API
    JSON_PORT, call_frame, column_type, columns_to_json, frame_to_ipc, frame_to_table, hello,
    ipc_to_frame, read_reply)


WORKER_RETRY_SECONDS = 5.0  # how long a request waits for a worker that does not answer


RequestError = HttpError  # an answer other than 200: ``status``, ``code`` and the message


# -- typing request values -------------------------------------------------------------------
def _missing(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _to_int(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())      # exact, however long (bounded by the body's size)
    number = float(value)
    if not math.isfinite(number):
        raise OverflowError
    if not number.is_integer():
        raise ValueError
    return int(number)


def _to_float(value):
    if isinstance(value, bool):
        raise ValueError
    number = float(value)
    if not math.isfinite(number):
        raise OverflowError       # NaN/Infinity: a missing value is null or ""
    return number


def _to_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError


def type_column(values: list, dtype: str, field: str):
    """``values`` as a pandas Series of the schema's ``dtype``; RequestError 400 naming
    ``field`` and the row for a value that does not convert."""
    import pandas as pd
    typed = typed_values(values, dtype, field)
    if isinstance(typed, tuple):
        return pd.Series(typed[1], dtype=typed[0])
    return typed


def typed_values(values: list, dtype: str, field: str):
    """``(pandas dtype, values)``: the values typed by the schema's ``dtype`` as plain Python
    (int, float, bool, str or None for a missing value), without pandas; a datetime column
    comes back as a pandas Series (it is typed by pandas). RequestError 400 naming ``field``
    and the row for a value that does not convert."""
    kind = dtype.lower()
    bounds = None
    if kind.startswith(("int", "uint")):
        convert, label, bounds = _to_int, "an integer", _int_bounds(dtype)
    elif kind.startswith("float"):
        convert, label = _to_float, "a number"
    elif kind in ("bool", "boolean"):
        convert, label = _to_bool, "a boolean (true/false)"
    elif kind.startswith("datetime"):
        import pandas as pd
        try:
            return pd.Series(pd.to_datetime([None if _missing(v) else v for v in values]))
        except (ValueError, TypeError, OverflowError) as exc:
            raise RequestError(400, "BadArgument", f"{field}: a value is not a date/time ({exc})") from None
    else:
        texts = [None if v is None else v if isinstance(v, str) else str(v) for v in values]
        return (dtype if kind in ("str", "string") else "object"), texts
    out, has_na = [], False
    for row, value in enumerate(values):
        if _missing(value):
            out.append(None)
            has_na = True
            continue
        try:
            converted = convert(value)
            if bounds and not bounds[0] <= converted <= bounds[1]:
                raise OverflowError
        except OverflowError:
            limits = f" ({bounds[0]} to {bounds[1]})" if bounds else " (a finite number)"
            raise RequestError(400, "BadArgument", f"{field}: row {row} value {_shown(value)} is "
                               f"out of range for the column's type {dtype}{limits}") from None
        except (ValueError, TypeError):
            raise RequestError(400, "BadArgument", f"{field}: row {row} value {_shown(value)} is "
                               f"not {label} (the column's type is {dtype})") from None
        out.append(converted)
    if not has_na or convert is _to_float:      # None in a float column is NaN
        return dtype, out
    if convert is _to_int:
        return ("UInt64" if bounds[1] > 2 ** 63 else "Int64"), out
    return "boolean", out


def _shown(value) -> str:
    return repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:57]}..."


_INT_BOUNDS = {f"{sign}int{bits}": ((0, 2 ** bits - 1) if sign else
                                     (-2 ** (bits - 1), 2 ** (bits - 1) - 1))
               for sign in ("", "u") for bits in (8, 16, 32, 64)}


def _int_bounds(dtype: str) -> tuple[int, int]:
    """What ``numpy.iinfo`` says, without numpy; int64's for another integer dtype."""
    return _INT_BOUNDS.get(dtype.lower(), _INT_BOUNDS["int64"])


@dataclass(frozen=True)
class TypedInput:
    """One input of a request, typed by its schema: ``columns`` is ``((name, dtype, values),
    ...)`` in the schema's order, values plain Python (a datetime column: a pandas Series)."""

    rows: int
    columns: tuple

    @property
    def plain(self) -> bool:
        """Whether every column is plain values (it can travel as typed JSON columns)."""
        return all(isinstance(values, list) for _, _, values in self.columns)

    def frame(self):
        import pandas as pd
        return pd.DataFrame({name: values if not isinstance(values, list)
                             else pd.Series(values, dtype=dtype)
                             for name, dtype, values in self.columns},
                            index=None if self.columns else pd.RangeIndex(self.rows))


def parse_body(raw: bytes, inputs: dict) -> dict:
    """``{input name: typed DataFrame}`` from a request body; RequestError 400 naming the field."""
    return {name: typed.frame() for name, typed in parse_inputs(raw, inputs).items()}


def parse_inputs(raw: bytes, inputs: dict) -> dict:
    """``{input name: TypedInput}`` from a request body, without pandas unless a column is a
    datetime; RequestError 400 naming the field."""
    body = parse_json(raw)
    if not isinstance(body, dict) or not isinstance(body.get("Inputs"), dict):
        example = json.dumps({next(iter(inputs)): {"ColumnNames": ["..."], "Values": [["..."]]}})
        raise RequestError(400, "BadArgument", f'the body must be a JSON object with "Inputs": {example}')
    params = body.get("GlobalParameters", {})
    if params is not None and not isinstance(params, dict):
        raise RequestError(400, "BadArgument", "GlobalParameters must be a JSON object")
    given = body["Inputs"]
    unknown = sorted(set(given) - set(inputs))
    if unknown:
        raise RequestError(400, "BadArgument", f"Inputs.{unknown[0]}: unknown input; this service's "
                           f"inputs are {', '.join(sorted(inputs))}")
    frames = {}
    for name, info in inputs.items():
        if name not in given:
            raise RequestError(400, "BadArgument", f"Inputs.{name} is missing; this service's inputs "
                               f"are {', '.join(sorted(inputs))}")
        columns, rows = _columns_and_rows(given[name], f"Inputs.{name}")
        schema = info["schema"]
        missing = [c for c in schema if c not in columns]
        extra = [c for c in columns if c not in schema]
        if missing or extra or len(set(columns)) != len(columns):
            raise RequestError(400, "BadArgument", f"Inputs.{name}.ColumnNames {columns} do not match "
                               f"the input's schema; expected the columns {list(schema)}")
        position = {c: i for i, c in enumerate(columns)}
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                raise RequestError(400, "BadArgument", f"Inputs.{name}.Values[{i}] must be a list of "
                                   f"{len(columns)} values (one per column)")
        frames[name] = TypedInput(len(rows), tuple(
            (c, *_typed(typed_values([r[position[c]] for r in rows], dtype, f"Inputs.{name}.{c}")))
            for c, dtype in schema.items()))
    return frames


def _typed(typed) -> tuple:
    return typed if isinstance(typed, tuple) else (str(typed.dtype), typed)


def _columns_and_rows(value, field: str) -> tuple[list, list]:
    if isinstance(value, list):  # row records
        if not all(isinstance(r, dict) for r in value):
            raise RequestError(400, "BadArgument", f"{field} must be a list of row objects "
                               '({"column": value}) or {"ColumnNames": [...], "Values": [[...]]}')
        columns = list(dict.fromkeys(k for r in value for k in r))
        return columns, [[r.get(c) for c in columns] for r in value]
    if not isinstance(value, dict) or "ColumnNames" not in value or "Values" not in value:
        raise RequestError(400, "BadArgument", f'{field} must be {{"ColumnNames": [...], "Values": '
                           '[[...]]} or a list of row objects')
    columns, rows = value["ColumnNames"], value["Values"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise RequestError(400, "BadArgument", f"{field}.ColumnNames must be a list of strings")
    if not isinstance(rows, list):
        raise RequestError(400, "BadArgument", f"{field}.Values must be a list of rows")
    return columns, rows


# -- the workers -----------------------------------------------------------------------------
class _Lean:
    """One lean connection to a worker (see :mod:`amlocal._engine.worker_wire`)."""

    def __init__(self, path: str, timeout: float, secret: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
            self.sock.sendall(hello(secret))
        except OSError:
            self.sock.close()
            raise
        self.rfile = self.sock.makefile("rb")

    def call(self, ports: str, answer: str, body: bytes) -> tuple[int, bytes]:
        self.sock.sendall(call_frame(ports, answer, body))
        return read_reply(self.rfile)

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


class Workers:
    """Calls to the worker sockets, with one kept-alive lean connection per thread and socket."""

    def __init__(self, secret: str, timeout: float = 600):
        self._local = threading.local()
        self._timeout = timeout
        self._secret = secret

    def call(self, path: str, frames: dict, answer: str = "arrow") -> bytes:
        """``frames`` is ``{port: (form, bytes)}`` (form ``arrow`` or ``json``); the answer is
        the result as Arrow, or as the answer's table with ``answer="table"``."""
        ports = ",".join(f"{p}={JSON_PORT if form == 'json' else ''}{len(b)}"
                         for p, (form, b) in frames.items())
        body = b"".join(b for _, b in frames.values())
        deadline = time.monotonic() + WORKER_RETRY_SECONDS
        conns = self._local.__dict__.setdefault("conns", {})
        while True:  # a kept-alive connection may have been closed: reconnect, briefly retrying
            conn = conns.get(path)
            try:
                if conn is None:
                    conn = conns[path] = _Lean(path, self._timeout, self._secret)
                status, data = conn.call(ports, answer, body)
                break
            except (OSError, ValueError):
                if conn is not None:
                    conn.close()
                conns.pop(path, None)
                if time.monotonic() > deadline:
                    raise RequestError(500, "WorkerUnavailable", "a worker of this service does not "
                                       "answer; see `amlocal webservice logs`") from None
                time.sleep(0.05)
        if status == 200:
            return data
        if status == 403:
            conns.pop(path).close()           # the worker closes a refused connection
        message = json.loads(data or b"{}").get("error", "the worker failed")
        raise RequestError(500, "ModuleExecutionError" if status == 422 else "WorkerError",
                           message)


class Service:
    """What ``service.json`` describes, and the execution of one request."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.spec = json.loads((folder / SERVICE_FILE).read_text())
        self.name = self.spec["name"]
        self.gate = threading.BoundedSemaphore(max(1, int(self.spec.get("concurrency", 4))))
        self.limits = Limits(int(self.spec.get("max_body") or Limits.max_body),
                             float(self.spec.get("read_timeout") or Limits.read_timeout))
        self.workers = Workers((folder / WORKER_SECRET_FILE).read_text().strip())
        self._tables = answered_only(self.spec)
        self._keys: tuple[float, list[str]] = (-1.0, [])
        self._keys_lock = threading.Lock()

    def key_hashes(self) -> list[str]:
        path = self.folder / KEYS_FILE
        mtime = path.stat().st_mtime_ns
        with self._keys_lock:
            if self._keys[0] != mtime:
                self._keys = (mtime, list(json.loads(path.read_text()).values()))
            return self._keys[1]

    def authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        given = hash_key(header[len("Bearer "):].strip())
        ok = False
        for stored in self.key_hashes():
            ok |= hmac.compare_digest(given, stored)
        return ok

    def execute(self, raw: bytes) -> dict:
        """The answer to one request: its inputs typed by the schemas travel as typed JSON
        columns (Arrow when a column is a datetime), a served step's result travels to the next
        step as Arrow, and a step whose result is only answered returns the answer's table."""
        inputs = parse_inputs(raw, self.spec["inputs"])
        data = {f"input:{n}": (("json", columns_to_json(t.columns, t.rows)) if t.plain
                               else ("arrow", frame_to_ipc(t.frame())))
                for n, t in inputs.items()}
        with self.gate:
            for node in self.spec["nodes"]:
                sent = {port: data[src] for port, src in node["dynamic"].items()}
                answer = "table" if node["id"] in self._tables else "arrow"
                data[f"node:{node['id']}"] = (answer, self.workers.call(node["socket"], sent,
                                                                        answer))
        return {"Results": {name: {"type": "table", "value": _table(*data[f"node:{node}"])}
                            for name, node in self.spec["outputs"].items()}}



def answered_only(spec: dict) -> frozenset:
    """The nodes of ``service.json`` whose result is only answered (no served step reads it)."""
    fed = {src[len("node:"):] for node in spec["nodes"]
           for src in node["dynamic"].values() if src.startswith("node:")}
    return frozenset(set(spec["outputs"].values()) - fed)


def _table(form: str, data: bytes) -> dict:
    """An output's table from a worker's answer, checked to be one."""
    if form == "arrow":
        return frame_to_table(ipc_to_frame(data))
    try:
        table = json.loads(data)
    except ValueError:
        table = None
    if not (isinstance(table, dict) and all(isinstance(table.get(k), list) for k in
                                            ("ColumnNames", "ColumnTypes", "Values"))):
        raise RequestError(500, "WorkerError", "a worker answered something else than a table")
    return table


def _handler(service: Service):
    route = f"/services/{service.name}/execute"

    class Handler(GuardedHandler):
        wbufsize = -1                   # one write per answer (flushed after each request) ...
        disable_nagle_algorithm = True  # ... sent at once: no 40 ms delayed-ACK stalls

        def do_GET(self):
            if self.path.rstrip("/") in ("", f"/services/{service.name}"):
                self.send_json(200, {"status": "Healthy", "name": service.name})
            else:
                self.send_json(404, {"error": {"code": "NotFound", "message": f"POST {route}"}})

        def do_POST(self):
            """The path, then the key, then the body's length, and only then the body."""
            started = time.perf_counter()
            read = False
            try:
                if self.path.split("?")[0] != route:
                    raise RequestError(404, "NotFound", f"no such endpoint; POST {route}")
                if not service.authorised(self.headers.get("Authorization")):
                    raise RequestError(401, "Unauthorized", "missing or wrong key: send the header "
                                       "'Authorization: Bearer <key>' with a key of this service "
                                       "(`amlocal webservice keys NAME --regen Primary` makes a new one)")
                raw = self.read_body()
                read = True
                status, payload = 200, service.execute(raw)
            except RequestError as exc:
                status, payload = exc.status, {"error": {"code": exc.code, "message": str(exc)}}
            except Exception as exc:  # noqa: BLE001 - never drop the connection without an answer
                status, payload = 500, {"error": {"code": "InternalError",
                                                  "message": f"{type(exc).__name__}: {exc}"}}
            self.send_json(status, payload, close=not read)
            if status != 200:
                print(f"POST {self.path[:200]} {status} {payload['error']['message'][:2000]}", flush=True)
            elif service.spec.get("log_requests"):
                print(f"POST {self.path} 200 {1000 * (time.perf_counter() - started):.1f} ms", flush=True)

    return guarded(Handler, service.limits)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m amlocal.server.pipeline_service SERVICE_FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    service = Service(folder)
    import pandas  # noqa: F401 - loaded before the first request, not during it
    import pyarrow  # noqa: F401
    server = ThreadingHTTPServer(("127.0.0.1", int(service.spec.get("port") or 0)), _handler(service))
    server.daemon_threads = True
    endpoint = {"port": server.server_address[1], "pid": os.getpid()}
    tmp = folder / f".{ENDPOINT_FILE}.tmp"
    tmp.write_text(json.dumps(endpoint))
    os.replace(tmp, folder / ENDPOINT_FILE)
    print(f"amlocal pipeline service '{service.name}' on http://localhost:{endpoint['port']}"
          f"/services/{service.name}/execute", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
