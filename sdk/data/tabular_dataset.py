"""TabularDataset (``azureml.data.tabular_dataset``): rows read from delimited or Parquet files.

Read with pandas (imported when a table is read). A TabularDataset is consumed in direct mode;
mount and download raise, as in Azure. Deliberate differences from Azure: only empty fields are
nulls (as Azure), other pandas NA spellings are kept as text; ``on_error='null'`` turns values
that do not convert to ``set_column_types`` into nulls, ``'fail'`` raises; ``out_of_range_datetime``
is accepted and ignored.
"""
from __future__ import annotations

import copy
import re
from datetime import datetime

from ..core.dataset import Dataset
from ..errors import UserErrorException

_TYPE_NAMES = {int: "Int64", float: "float64", str: "string", bool: "boolean"}
_ALIASES = {"int": "Int64", "integer": "Int64", "long": "Int64", "float": "float64",
            "double": "float64", "str": "string", "string": "string", "bool": "boolean",
            "boolean": "boolean", "datetime": "datetime", "date": "datetime"}
_DATE_PARTS = {"yyyy": (r"\d{4}", "%Y"), "MM": (r"\d{2}", "%m"), "dd": (r"\d{2}", "%d"),
               "HH": (r"\d{2}", "%H"), "mm": (r"\d{2}", "%M"), "ss": (r"\d{2}", "%S")}


def reader_types(set_column_types) -> dict:
    """``set_column_types`` as JSON: column -> type name. Raises UserErrorException."""
    result = {}
    for column, kind in (set_column_types or {}).items():
        if kind in _TYPE_NAMES:
            result[str(column)] = _TYPE_NAMES[kind]
        elif isinstance(kind, str) and kind.strip():
            result[str(column)] = _ALIASES.get(kind.strip().lower(), kind.strip())
        else:
            raise UserErrorException(
                f"set_column_types[{column!r}] = {kind!r} is not a type: use int, float, str, "
                "bool, 'datetime' or a pandas dtype name")
    return result


class TabularDataset(Dataset):
    """Create with ``Dataset.Tabular.from_delimited_files(...)`` or ``from_parquet_files(...)``."""

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null"):
        """Read every file (sorted by path) into one pandas DataFrame.

        Raises UserErrorException when a file cannot be parsed, when Parquet support is missing
        (install pyarrow), or, with ``on_error='fail'``, when a value does not convert.
        """
        import pandas as pd
        if on_error not in ("null", "fail"):
            raise UserErrorException("on_error must be 'null' or 'fail'")
        reader = self._definition["reader"]
        limit = self._row_limit()
        res = self._resolve()
        frames, rows = [], 0
        for match in res.matches:
            if limit is not None and rows >= limit:
                break
            fs = res.sources[match.source].fs
            frame = self._read_one(pd, fs, match.path, reader)
            if reader.get("include_path"):
                frame.insert(0, "Path", match.portable)
            fmt = self._definition.get("partition_format")
            if fmt:
                for column, value in _partition_values(fmt, match.key).items():
                    frame[column] = value
            frames.append(frame)
            rows += len(frame)
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        frame = _apply_types(pd, frame, reader.get("set_column_types") or {}, on_error)
        for step in self._definition.get("transforms", []):
            if "skip" in step:
                frame = frame.iloc[step["skip"]:]
            if "take" in step:
                frame = frame.head(step["take"])
        return frame.reset_index(drop=True)

    def take(self, count: int) -> "TabularDataset":
        """A new TabularDataset of the first ``count`` rows."""
        return self._with_transform({"take": _count(count, "take")})

    def skip(self, count: int) -> "TabularDataset":
        """A new TabularDataset without the first ``count`` rows."""
        return self._with_transform({"skip": _count(count, "skip")})

    def as_mount(self, path_on_compute: str | None = None):
        """Raises UserErrorException: only FileDataset can be mounted (as in Azure)."""
        from .dataset_consumption_config import DatasetConsumptionConfig
        return DatasetConsumptionConfig(None, self, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None):
        """Raises UserErrorException: only FileDataset can be downloaded (as in Azure)."""
        from .dataset_consumption_config import DatasetConsumptionConfig
        return DatasetConsumptionConfig(None, self, "download", path_on_compute)

    # -- internals --------------------------------------------------------------------------
    def _with_transform(self, step: dict) -> "TabularDataset":
        definition = copy.deepcopy(self._definition)
        definition.setdefault("transforms", []).append(step)
        return TabularDataset(definition, self._workspace)

    def _row_limit(self) -> int | None:
        """Rows that must be read to apply the transforms, None for all."""
        needed: int | None = None
        for step in self._definition.get("transforms", []):
            if "skip" in step and needed is not None:
                return None
            if "take" in step:
                needed = step["take"] if needed is None else min(needed, step["take"])
            elif "skip" in step:
                return None
        return needed

    @staticmethod
    def _read_one(pd, fs, path: str, reader: dict):
        try:
            with fs.open(path, "rb") as handle:
                if reader["format"] == "parquet":
                    # No Arrow thread pools for a Python file object: their threads can still be
                    # alive at interpreter exit and abort it (apache/arrow#34314).
                    return pd.read_parquet(handle, engine="pyarrow", use_threads=False,
                                           pre_buffer=False)
                return pd.read_csv(
                    handle, sep=reader.get("separator", ","),
                    header=0 if reader.get("header", True) else None,
                    encoding=reader.get("encoding", "utf8"),
                    dtype=None if reader.get("infer_column_types", True) else str,
                    keep_default_na=False,
                    na_values=[] if reader.get("empty_as_string") else [""]
                ).pipe(_name_columns, reader)
        except ImportError as exc:
            raise UserErrorException(
                f"reading Parquet files needs pyarrow: pip install pyarrow ({exc})") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserErrorException(f"cannot read {path} as {reader['format']}: {exc}") from exc


def _name_columns(frame, reader: dict):
    if not reader.get("header", True):  # Azure names header-less columns Column1, Column2 ...
        frame.columns = [f"Column{i + 1}" for i in range(len(frame.columns))]
    return frame


def _apply_types(pd, frame, types: dict, on_error: str):
    errors = "coerce" if on_error == "null" else "raise"
    for column, kind in types.items():
        if column not in frame.columns:
            raise UserErrorException(
                f"set_column_types names column {column!r}, which the data does not have; "
                f"columns: {', '.join(map(str, frame.columns))}")
        try:
            if kind == "datetime":
                frame[column] = pd.to_datetime(frame[column], errors=errors)
            elif kind in ("Int64", "float64"):
                frame[column] = pd.to_numeric(frame[column], errors=errors).astype(kind)
            else:
                frame[column] = frame[column].astype(kind)
        except (ValueError, TypeError) as exc:
            raise UserErrorException(f"column {column!r} does not convert to {kind}: {exc}") from exc
    return frame


def _count(count, what: str) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise UserErrorException(f"{what}(count) needs a whole number >= 0, not {count!r}")
    return count


def _partition_values(fmt: str, key: str) -> dict:
    """Columns from a file's path, Azure style: ``'/{Department}/{Date:yyyy/MM/dd}/data.csv'``
    matched against the end of the path; ``{name}`` is text, ``{name:yyyy/MM/dd}`` a datetime."""
    path = "/" + key.split(":", 1)[-1].lstrip("/")
    pattern, dates = [], {}
    pos = 0
    for m in re.finditer(r"\{(\w+)(?::([^}]*))?\}", fmt):
        pattern.append(re.escape(fmt[pos:m.start()]))
        name, date_fmt = m.group(1), m.group(2)
        if date_fmt:
            regex, strp = date_fmt, date_fmt
            for token, (rx, code) in _DATE_PARTS.items():
                regex, strp = regex.replace(token, rx), strp.replace(token, code)
            pattern.append(f"(?P<{name}>{regex})")
            dates[name] = strp
        else:
            pattern.append(f"(?P<{name}>[^/]+)")
        pos = m.end()
    pattern.append(re.escape(fmt[pos:]) + "$")
    found = re.search("".join(pattern), path)
    if not found:
        return {name: None for name in re.findall(r"\{(\w+)", fmt)}
    values = found.groupdict()
    for name, strp in dates.items():
        values[name] = datetime.strptime(values[name], strp)
    return values
