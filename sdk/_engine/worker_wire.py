"""The wire format between a pipeline web service's host front and its warm workers: one
secret header on every call, and tables in one of two forms. Both ends import it from here.

- A frame travels as an Arrow IPC stream (``arrow``): any frame, e.g. a served step's result on
  its way to the next served step.
- A request's input travels as typed JSON columns (``json``), so a one-row request is never
  turned into pandas and Arrow on the host and back in the worker: ``{"rows": n, "columns":
  [[name, dtype, [values...]], ...]}``, with the values already typed by the host
  (:func:`amlocal.server.pipeline_service.typed_columns`: Python ints, floats, bools, strings or
  None) and ``dtype`` the pandas dtype of the column. :func:`columns_to_frame` builds the same
  frame as the Arrow form of that column would give (dtypes and column index alike).
- A result the host only answers with travels as the answer's table (``table``):
  ``{"ColumnNames", "ColumnTypes", "Values"}`` made by :func:`frame_to_table` in the worker.

In ``X-Ports`` a port is ``name=<bytes>`` (Arrow) or ``name=json:<bytes>``; ``X-Answer: table``
asks for the table, otherwise the answer is Arrow.

The host front speaks a lean framing to the workers rather than HTTP (no header parsing on either
side of the hop; a worker still answers HTTP, to anyone who sends it, with the same secret check):
a connection starts with the line ``AMLW1 <worker secret>``, which the worker checks before it
reads anything else (a wrong secret: one 403 reply, then the connection is closed); then each
call is the line ``CALL <X-Ports or -> <arrow|table> <body bytes>`` and the body, and each reply
the line ``<status> <body bytes>`` and the body (status as in HTTP: 200, 403, 422 the user's
error, 500). Only the standard library is imported at module level (the workers import it inside
containers).
"""
from __future__ import annotations

import base64
import io
import json

SECRET_HEADER = "X-Amlocal-Worker-Secret"
SECRET_ENV = "AMLOCAL_WORKER_SECRET"     # how a worker gets the service's worker secret
ANSWER_HEADER = "X-Answer"               # "table": answer the result as the JSON table
JSON_PORT = "json:"                      # an X-Ports size with this prefix: typed JSON columns
MAGIC = b"AMLW1 "                        # the first bytes of a lean connection
_MAX_LINE = 4096


# -- the lean framing ---------------------------------------------------------------------------
def hello(secret: str) -> bytes:
    return MAGIC + secret.encode("utf-8") + b"\n"


def call_frame(ports: str, answer: str, body: bytes) -> bytes:
    return f"CALL {ports or '-'} {answer} {len(body)}\n".encode("ascii") + body


def reply_frame(status: int, body: bytes) -> bytes:
    return f"{status} {len(body)}\n".encode("ascii") + body


def _line(rfile) -> bytes | None:
    line = rfile.readline(_MAX_LINE)
    if not line:
        return None                              # the other end closed the connection
    if not line.endswith(b"\n"):
        raise ValueError("a lean frame's line is too long or cut")
    return line[:-1]


def _body(rfile, size: int) -> bytes:
    data = rfile.read(size) if size else b""
    if len(data) != size:
        raise ValueError(f"a lean frame's body ended after {len(data)} of {size} bytes")
    return data


def read_call(rfile) -> tuple[str, str, bytes] | None:
    """``(X-Ports, answer, body)`` of the next call, None at the end of the connection;
    ValueError for a malformed frame."""
    line = _line(rfile)
    if line is None:
        return None
    parts = line.decode("ascii", "replace").split(" ")
    if len(parts) != 4 or parts[0] != "CALL" or parts[2] not in ("arrow", "table") \
            or not parts[3].isdigit():
        raise ValueError(f"not a lean call: {line[:80]!r}")
    return ("" if parts[1] == "-" else parts[1]), parts[2], _body(rfile, int(parts[3]))


def read_reply(rfile) -> tuple[int, bytes]:
    """``(status, body)`` of the next reply; ConnectionError when the worker closed the
    connection, ValueError for a malformed frame."""
    line = _line(rfile)
    if line is None:
        raise ConnectionError("the worker closed the connection")
    status, _, size = line.decode("ascii", "replace").partition(" ")
    if not (status.isdigit() and size.isdigit()):
        raise ValueError(f"not a lean reply: {line[:80]!r}")
    return int(status), _body(rfile, int(size))



def frame_to_ipc(frame) -> bytes:
    import pyarrow as pa
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def ipc_to_frame(data: bytes):
    import pyarrow as pa
    # one thread: for the small frames of a request, Arrow's thread pool costs more than it saves
    return pa.ipc.open_stream(data).read_all().to_pandas(use_threads=False)


# -- typed JSON columns (a request's input) -----------------------------------------------------
def columns_to_json(columns: list, rows: int) -> bytes:
    """``columns`` (``[(name, dtype, values), ...]``) as the ``json`` port form."""
    return json.dumps({"rows": rows, "columns": [list(c) for c in columns]},
                      separators=(",", ":")).encode("utf-8")


def columns_frame(columns: list, rows: int, indexes: dict | None = None):
    """The DataFrame of typed columns, as the Arrow form of the same columns would give it
    (dtypes, the 0..n-1 RangeIndex and the column index alike). ``indexes`` may hold column
    indexes made before, by their names (an Index is immutable: frames may share one)."""
    import numpy as np
    import pandas as pd
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(rows))
    dtypes = {dtype for _, dtype, _ in columns}
    if len(dtypes) == 1 and columns[0][1] in _NUMPY \
            and all(None not in values for _, _, values in columns):
        # one numeric dtype (the common case): one 2-D block, as Arrow's to_pandas makes it
        names = tuple(name for name, _, _ in columns)
        index = None if indexes is None else indexes.get(names)
        if index is None:
            index = pd.Index(list(names), dtype=pd.Series(list(names)).dtype)
            if indexes is not None and len(indexes) < 64:
                indexes[names] = index
        block = np.array([values for _, _, values in columns], dtype=columns[0][1]).T
        return pd.DataFrame(block.reshape(rows, len(columns)), columns=index,
                            index=pd.RangeIndex(rows), copy=False)
    data = {}
    for name, dtype, values in columns:
        kind = str(dtype).lower()
        if dtype in _NUMPY and None not in values:
            data[name] = np.array(values, dtype=dtype)
        elif kind in ("object", "str", "string") and any(v is not None for v in values):
            # Arrow reads text back as pandas' default string dtype, whatever it was sent as
            data[name] = pd.Series(values, dtype=_text_dtype(dtype))
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, copy=False)


_NUMPY = frozenset({"bool", "float16", "float32", "float64",
                    *(f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64))})


def columns_to_frame(data: bytes, indexes: dict | None = None):
    """The frame of a ``json`` port (see :func:`columns_to_json`)."""
    payload = json.loads(data)
    return columns_frame(payload["columns"], int(payload["rows"]), indexes)


def _text_dtype(dtype: str):
    import pandas as pd
    if str(dtype).lower() == "string":
        return "string"                     # the nullable StringDtype stays itself
    return pd.Series(["a"]).dtype           # "object" before pandas 3, "str" since


# -- the answer's table ---------------------------------------------------------------------
def column_type(series) -> str:
    """The classic ColumnTypes name of a column (mapping in
    :mod:`amlocal.server.pipeline_service`)."""
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
    import numpy as np
    names = [str(c) for c in frame.columns]
    types, columns = [], []
    for i in range(len(names)):
        series = frame.iloc[:, i]
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in _PLAIN:   # NumPy numbers and bools
            kind = _PLAIN[dtype.kind] if dtype.kind != "i" and dtype.kind != "u" else (
                "Int32" if dtype.itemsize < 4 or (dtype.kind == "i" and dtype.itemsize == 4)
                else "Int64")
            values = series.to_numpy().tolist()
            if dtype.kind == "f":
                values = [None if v != v else v for v in values]      # NaN is missing
            types.append(kind)
            columns.append(values)
            continue
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


_PLAIN = {"b": "Boolean", "f": "Double", "i": "Int64", "u": "Int64"}


def check_table(frame) -> None:
    """Raise what Arrow raises for a frame that is not a table (a column mixing types): a result
    answered as a table directly must be one that the Arrow form (and a batch run's Parquet)
    would take too. Only object columns can fail, so only they are converted."""
    objects = [i for i, t in enumerate(frame.dtypes) if t == object]
    if objects:
        import pyarrow as pa
        for i in objects:
            pa.array(frame.iloc[:, i], from_pandas=True)


def table_to_json(table: dict) -> bytes:
    return json.dumps(table, separators=(",", ":")).encode("utf-8")
