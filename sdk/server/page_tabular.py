"""Studio classic's "Visualize" for the studio page: the first rows of a tabular file (CSV, TSV,
Parquet, or a folder of them) and, per column, its type, missing and unique counts and a small
histogram (numbers, times) or value counts (text, categories, booleans).

Everything is bounded, so a huge file neither hangs the server nor fills its memory:

- at most :data:`MAX_BYTES` (32 MiB) are read from delimited files, over all files of a folder
  (a file cut short is cut at its last whole line);
- a Parquet file is read row group by row group, stopping once :data:`MAX_ROWS` rows or
  :data:`MAX_BYTES` (the groups' uncompressed size) are reached; a first row group larger
  than :data:`MAX_ROW_GROUP_BYTES` is refused;
- at most :data:`MAX_ROWS` (100,000) rows and the first :data:`MAX_COLUMNS` (100) columns are
  read; the statistics describe those rows (the answer says when the data had more);
- a folder contributes at most :data:`MAX_FILES` files; :data:`PREVIEW_ROWS` rows are shown,
  each text cell cut at :data:`MAX_CELL` characters.

Files are read through an fsspec filesystem (a local folder or a remote datastore alike).
pandas, numpy and pyarrow are imported inside the functions: importing this module is free.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from ..errors import UserErrorException

PREVIEW_ROWS = 100
MAX_ROWS = 100_000
MAX_COLUMNS = 100
MAX_BYTES = 32 * 1024 * 1024
MAX_ROW_GROUP_BYTES = 256 * 1024 * 1024
MAX_FILES = 50
MAX_CELL = 200
BINS = 10
TOP_VALUES = 10

DELIMITED = {".csv": ",", ".tsv": "\t"}
PARQUET = (".parquet", ".parq")


def limits() -> dict:
    return {"previewRows": PREVIEW_ROWS, "rows": MAX_ROWS, "columns": MAX_COLUMNS,
            "bytes": MAX_BYTES, "files": MAX_FILES}


def tabular_kind(path: str) -> str | None:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from a file name; None for other files."""
    lower = path.lower()
    for suffix in PARQUET:
        if lower.endswith(suffix):
            return "parquet"
    for suffix in DELIMITED:
        if lower.endswith(suffix):
            return suffix[1:]
    return None


def tabular_files(paths: list[str]) -> list[str]:
    """The files a folder is read from, as Studio's runtime reads a result folder: its Parquet
    files, else its CSV/TSV files, in path order."""
    parquet = sorted(p for p in paths if tabular_kind(p) == "parquet")
    return parquet or sorted(p for p in paths if tabular_kind(p) in ("csv", "tsv"))


@dataclass
class _Budget:
    bytes_left: int
    rows_left: int
    truncated: bool = False
    notes: list = field(default_factory=list)


def read_table(fs, files: list[str], shown: list[str]):
    """``(frame, budget, columns_total, total_rows)`` of ``files`` (full paths on ``fs``;
    ``shown`` their names for messages), read within the limits."""
    import pandas as pd
    budget = _Budget(bytes_left=MAX_BYTES, rows_left=MAX_ROWS)
    frames, columns_total, total_rows = [], 0, 0
    if len(files) > MAX_FILES:
        budget.truncated = True
        budget.notes.append(f"only the first {MAX_FILES} of {len(files)} files were read")
        files, shown = files[:MAX_FILES], shown[:MAX_FILES]
    for path, name in zip(files, shown):
        if budget.rows_left <= 0 or budget.bytes_left <= 0:
            budget.truncated = True
            budget.notes.append(f"{name} and later files were not read (limit reached)")
            break
        kind = tabular_kind(path)
        try:
            if kind == "parquet":
                frame, ncols, nrows = _read_parquet(fs, path, budget)
            else:
                frame, ncols, nrows = _read_delimited(fs, path, DELIMITED["." + kind], budget)
        except UserErrorException as exc:
            raise UserErrorException(f"cannot preview {name}: {exc}") from None
        except (OSError, ValueError, UnicodeDecodeError, csv.Error, pd.errors.ParserError) as exc:
            raise UserErrorException(
                f"cannot read {name} as {kind.upper()}: {type(exc).__name__}: "
                f"{str(exc)[:300]}") from None
        columns_total = max(columns_total, ncols)
        total_rows = None if total_rows is None or nrows is None else total_rows + nrows
        budget.rows_left -= len(frame)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (
        frames[0] if frames else pd.DataFrame())
    if columns_total > MAX_COLUMNS:
        budget.truncated = True
        budget.notes.append(f"only the first {MAX_COLUMNS} of {columns_total} columns were read")
    return frame.iloc[:, :MAX_COLUMNS], budget, columns_total, total_rows


def _read_delimited(fs, path: str, sep: str, budget: _Budget):
    import pandas as pd
    with fs.open(path, "rb") as f:
        data = f.read(budget.bytes_left + 1)
    if len(data) > budget.bytes_left:
        data = data[:data.rfind(b"\n", 0, budget.bytes_left) + 1]
        budget.truncated = True
        budget.notes.append(f"only the first {budget.bytes_left:,} bytes of a file were read")
    budget.bytes_left -= len(data)
    if not data.strip():
        return pd.DataFrame(), 0, 0
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", "replace")
    header = next(csv.reader([first], delimiter=sep), [])
    ncols = len(header)
    frame = pd.read_csv(io.BytesIO(data), sep=sep, nrows=budget.rows_left,
                        usecols=range(min(ncols, MAX_COLUMNS)), encoding="utf-8",
                        encoding_errors="replace", low_memory=False)
    complete = not budget.truncated and len(frame) < budget.rows_left
    if len(frame) >= budget.rows_left:
        budget.truncated = True
    return frame, ncols, (len(frame) if complete else None)


def _read_parquet(fs, path: str, budget: _Budget):
    import pyarrow as pa
    import pyarrow.parquet as pq
    with fs.open(path, "rb") as f:
        try:
            parquet = pq.ParquetFile(f)
        except pa.ArrowException as exc:
            raise UserErrorException(f"not a Parquet file ({exc})") from None
        meta = parquet.metadata
        names = parquet.schema_arrow.names
        chosen = names[:MAX_COLUMNS]
        indexes = set(range(min(len(names), MAX_COLUMNS)))
        tables = []
        rows = 0
        for group in range(meta.num_row_groups):
            info = meta.row_group(group)
            size = sum(info.column(i).total_uncompressed_size
                       for i in range(info.num_columns) if i in indexes)
            if group == 0 and size > MAX_ROW_GROUP_BYTES:
                raise UserErrorException(
                    f"its first row group holds {size:,} bytes, over the preview's limit of "
                    f"{MAX_ROW_GROUP_BYTES:,}; write it with smaller row groups")
            if rows >= budget.rows_left or (tables and size > budget.bytes_left):
                budget.truncated = True
                break
            try:
                tables.append(parquet.read_row_group(group, columns=chosen))
            except pa.ArrowException as exc:
                raise UserErrorException(f"cannot read row group {group} ({exc})") from None
            rows += info.num_rows
            budget.bytes_left -= size
    if tables:
        table = pa.concat_tables(tables)
    else:
        table = parquet.schema_arrow.empty_table().select(chosen)
    frame = table.slice(0, budget.rows_left).to_pandas()
    if meta.num_rows > len(frame):
        budget.truncated = True
    return frame, len(names), meta.num_rows


# -- statistics ---------------------------------------------------------------------------------
def _finite(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def cell(value):
    """A JSON-safe cell: None for missing, numbers as numbers (inf as text), times as ISO-8601
    text, anything else as text cut at MAX_CELL characters."""
    import numpy as np
    import pandas as pd
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return float(value) if math.isfinite(value) else str(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp,)) or hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _kind(series) -> str:
    from pandas.api import types
    if types.is_bool_dtype(series.dtype):
        return "boolean"
    if types.is_numeric_dtype(series.dtype):
        return "numeric"
    if types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if isinstance(series.dtype, types.CategoricalDtype):
        return "category"
    return "text"


def _histogram(values, labels=None) -> list[dict]:
    import numpy as np
    if len(values) == 0:
        return []
    low, high = float(values.min()), float(values.max())
    bins = 1 if low == high else min(BINS, max(1, len(np.unique(values))))
    counts, edges = np.histogram(values, bins=bins, range=(low, high) if low != high else None)
    edge = labels or (lambda x: _finite(x))
    return [{"low": edge(edges[i]), "high": edge(edges[i + 1]), "count": int(counts[i])}
            for i in range(len(counts))]


def column_stats(series) -> dict:
    """One column's type, counts and histogram or value counts."""
    import numpy as np
    import pandas as pd
    kind = _kind(series)
    present = series.dropna()
    try:
        unique = int(present.nunique())
    except TypeError:                                  # lists, dicts: count their text
        present = present.map(str)
        unique = int(present.nunique())
    stats = {"name": str(series.name), "type": str(series.dtype), "kind": kind,
             "count": int(len(present)), "missing": int(len(series) - len(present)),
             "unique": unique, "min": None, "max": None, "mean": None, "median": None,
             "std": None, "histogram": None, "values": None, "others": 0}
    if kind == "numeric":
        values = present.to_numpy(dtype="float64", na_value=np.nan)
        values = values[np.isfinite(values)]
        if len(values):
            stats.update(min=_finite(values.min()), max=_finite(values.max()),
                         mean=_finite(values.mean()), median=_finite(np.median(values)),
                         std=_finite(values.std(ddof=1)) if len(values) > 1 else None)
        stats["histogram"] = _histogram(values)
    elif kind == "datetime":
        if len(present):
            stats.update(min=cell(present.min()), max=cell(present.max()))
            unit = getattr(present.dtype, "unit", None) or np.datetime_data(present.dtype)[0]
            ticks = present.astype("int64").to_numpy()
            stats["histogram"] = _histogram(
                ticks, lambda x: pd.Timestamp(int(x), unit=unit).isoformat())
        else:
            stats["histogram"] = []
    else:
        counts = present.map(lambda v: cell(v) if not isinstance(v, str) else v).value_counts()
        top = counts.head(TOP_VALUES)
        stats["values"] = [{"value": cell(v), "count": int(n)} for v, n in top.items()]
        stats["others"] = int(counts.iloc[TOP_VALUES:].sum()) if len(counts) > TOP_VALUES else 0
    return stats


def preview(fs, files: list[str], shown: list[str]) -> dict:
    """The Visualize answer for ``files``: rows, columns with statistics, and what was cut."""
    frame, budget, columns_total, total_rows = read_table(fs, files, shown)
    head = frame.head(PREVIEW_ROWS)
    rows = [[cell(v) for v in row] for row in head.itertuples(index=False, name=None)]
    return {"files": shown[:MAX_FILES], "format": tabular_kind(files[0]) if files else None,
            "rows": rows, "columns": [column_stats(frame.iloc[:, i])
                                      for i in range(frame.shape[1])],
            "rowsShown": len(rows), "rowsRead": int(len(frame)), "totalRows": total_rows,
            "columnsTotal": columns_total, "truncated": budget.truncated,
            "notes": budget.notes, "limits": limits()}
