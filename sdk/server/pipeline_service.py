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
nodes on the web path run in order, each frame passed to the next worker as Arrow IPC bytes, and
the answer is ``{"Results": {"output1": {"type": "table", "value": {"ColumnNames",
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
``azureml_main`` fails. The workers are called over their Unix sockets with the service's worker
secret (``worker.secret``), which they check before reading a call.
``GET /`` answers ``{"status": "Healthy"}`` without a key. At most ``concurrency`` requests
(``AMLOCAL_SERVICE_CONCURRENCY`` at deploy, default 4) execute at once; others wait.
"""
from __future__ import annotations

import base64
import hmac
import http.client
import json
import math
import os
import re
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from amlocal._engine.http_guard import GuardedHandler, HttpError, Limits, guarded, parse_json
from amlocal._engine.served import (ENDPOINT_FILE, KEYS_FILE, SERVICE_FILE,
                                    WORKER_SECRET_FILE, hash_key)
from amlocal._engine.worker_wire import SECRET_HEADER, frame_to_ipc, ipc_to_frame


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


def _int_range(dtype: str) -> tuple[int, int]:
    import numpy as np
    try:
        info = np.iinfo(dtype.lower())
    except (TypeError, ValueError):
        info = np.iinfo("int64")
    return int(info.min), int(info.max)


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
    kind = dtype.lower()
    bounds = None
    if kind.startswith(("int", "uint")):
        convert, label, bounds = _to_int, "an integer", _int_range(dtype)
    elif kind.startswith("float"):
        convert, label = _to_float, "a number"
    elif kind in ("bool", "boolean"):
        convert, label = _to_bool, "a boolean (true/false)"
    elif kind.startswith("datetime"):
        try:
            return pd.Series(pd.to_datetime([None if _missing(v) else v for v in values]))
        except (ValueError, TypeError, OverflowError) as exc:
            raise RequestError(400, "BadArgument", f"{field}: a value is not a date/time ({exc})") from None
    else:
        texts = [None if v is None else v if isinstance(v, str) else str(v) for v in values]
        return pd.Series(texts, dtype=dtype if kind in ("str", "string") else object)
    out, has_na = [], False
    for row, value in enumerate(values):
        if _missing(value):
            out.append(None)
            has_na = True
            continue
        shown = repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:57]}..."
        try:
            converted = convert(value)
            if bounds and not bounds[0] <= converted <= bounds[1]:
                raise OverflowError
        except OverflowError:
            limits = f" ({bounds[0]} to {bounds[1]})" if bounds else " (a finite number)"
            raise RequestError(400, "BadArgument", f"{field}: row {row} value {shown} is out of "
                               f"range for the column's type {dtype}{limits}") from None
        except (ValueError, TypeError):
            raise RequestError(400, "BadArgument", f"{field}: row {row} value {shown} is not "
                                                   f"{label} (the column's type is {dtype})") from None
        out.append(converted)
    if not has_na:
        return pd.Series(out, dtype=dtype)
    if convert is _to_int:
        return pd.Series(out, dtype="UInt64" if bounds[1] > 2 ** 63 else "Int64")
    if convert is _to_float:
        return pd.Series([float("nan") if v is None else v for v in out], dtype=dtype)
    return pd.Series(out, dtype="boolean")


def parse_body(raw: bytes, inputs: dict) -> dict:
    """``{input name: typed DataFrame}`` from a request body; RequestError 400 naming the field."""
    import pandas as pd
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
        frames[name] = pd.DataFrame({c: type_column([r[position[c]] for r in rows], dtype,
                                                    f"Inputs.{name}.{c}")
                                     for c, dtype in schema.items()})
    return frames


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


# -- answering -------------------------------------------------------------------------------
def column_type(series) -> str:
    """The classic ColumnTypes name of a column (mapping in the module docstring)."""
    import pandas as pd
    t = series.dtype
    if pd.api.types.is_bool_dtype(t):
        return "Boolean"
    if pd.api.types.is_integer_dtype(t):
        return "Int32" if str(t).lower() in ("int8", "int16", "int32", "uint8", "uint16") else "Int64"
    if pd.api.types.is_float_dtype(t):
        return "Double"
    if pd.api.types.is_datetime64_any_dtype(t):
        return "DateTime"
    if pd.api.types.is_timedelta64_dtype(t):
        return "TimeSpan"
    present = series.dropna()
    if len(present) and all(isinstance(v, (bytes, bytearray)) for v in present):
        return "Binary"
    return "String"


def _cell(value, kind: str):
    if value is None:
        return None
    if kind == "Binary":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "DateTime":
        return value.isoformat()
    if kind == "TimeSpan":
        return value.total_seconds()
    if kind == "String" and not isinstance(value, str):
        return str(value)
    return value


def frame_to_table(frame) -> dict:
    """``{"ColumnNames", "ColumnTypes", "Values"}`` of a result frame."""
    names = [str(c) for c in frame.columns]
    types, columns = [], []
    for i in range(len(names)):
        series = frame.iloc[:, i]
        kind = column_type(series)
        missing = series.isna()
        if missing.any() or kind not in ("Int64", "Int32", "Double", "Boolean", "String"):
            values = series.astype(object).where(~missing, None).tolist()
        else:
            values = series.tolist()
        types.append(kind)
        columns.append([_cell(v, kind) for v in values])
    rows = [list(r) for r in zip(*columns)] if columns else [[] for _ in range(len(frame))]
    return {"ColumnNames": names, "ColumnTypes": types, "Values": rows}


# -- the workers -----------------------------------------------------------------------------
class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class Workers:
    """Calls to the worker sockets, with one kept-alive connection per thread and socket."""

    def __init__(self, secret: str, timeout: float = 600):
        self._local = threading.local()
        self._timeout = timeout
        self._secret = secret

    def call(self, path: str, frames: dict) -> bytes:
        ports = ",".join(f"{p}={len(b)}" for p, b in frames.items())
        body = b"".join(frames.values())
        deadline = time.monotonic() + WORKER_RETRY_SECONDS
        while True:  # a kept-alive connection may have been closed: reconnect, briefly retrying
            conns = self._local.__dict__.setdefault("conns", {})
            conn = conns.get(path) or conns.setdefault(path, _UnixConnection(path, self._timeout))
            try:
                conn.request("POST", "/call", body=body,
                             headers={"X-Ports": ports, SECRET_HEADER: self._secret})
                response = conn.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conns.pop(path, None)
                if time.monotonic() > deadline:
                    raise RequestError(500, "WorkerUnavailable", "a worker of this service does not "
                                       "answer; see `amlocal webservice logs`") from None
                time.sleep(0.05)
        if response.status == 200:
            return data
        message = json.loads(data or b"{}").get("error", "the worker failed")
        raise RequestError(500, "ModuleExecutionError" if response.status == 422 else "WorkerError",
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
        frames = parse_body(raw, self.spec["inputs"])
        data = {f"input:{n}": frame_to_ipc(f) for n, f in frames.items()}
        with self.gate:
            for node in self.spec["nodes"]:
                sent = {port: data[src] for port, src in node["dynamic"].items()}
                data[f"node:{node['id']}"] = self.workers.call(node["socket"], sent)
        return {"Results": {name: {"type": "table",
                                   "value": frame_to_table(ipc_to_frame(data[f"node:{node}"]))}
                            for name, node in self.spec["outputs"].items()}}


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
