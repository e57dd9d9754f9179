"""TabularDataset (``azureml.data.tabular_dataset``): rows read from delimited or Parquet files.

Read with pandas (imported when a table is read). A TabularDataset is consumed in direct mode;
mount and download raise, as in Azure. Deliberate differences from Azure: only empty fields are
nulls (as Azure), other pandas NA spellings are kept as text; ``on_error='null'`` turns values
that do not convert to ``set_column_types`` into nulls, ``'fail'`` raises; ``out_of_range_datetime``
is accepted and ignored. A source that matches no file raises, naming it (never an empty frame).
The columns of a ``partition_format`` are added after the file's own columns;
``partition_by`` writes partitioned Parquet (see ``_partition_writer``).
"""
from __future__ import annotations

import copy

from ..core.dataset import Dataset
from ..errors import UserErrorException

_TYPE_NAMES = {int: "Int64", float: "float64", str: "string", bool: "boolean"}
_ALIASES = {"int": "Int64", "integer": "Int64", "long": "Int64", "float": "float64",
            "double": "float64", "str": "string", "string": "string", "bool": "boolean",
            "boolean": "boolean", "datetime": "datetime", "date": "datetime"}
_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def reader_types(set_column_types) -> dict:
    """``set_column_types`` as JSON: column -> type name. Raises UserErrorException."""
    result = {}
    for column, kind in (set_column_types or {}).items():
        if isinstance(getattr(kind, "_reader_type", None), str):   # a DataType
            result[str(column)] = kind._reader_type
        elif kind in _TYPE_NAMES:
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
        fmt = self._partition_format()
        res = self._resolve()
        res.require_files("Check the path and that the data was uploaded (datastore.upload(...)) "
                          "or written by the step that produces it")
        frames, rows = [], 0
        for match in res.matches:
            if limit is not None and rows >= limit:
                break
            fs = res.sources[match.source].fs
            frame = self._read_one(pd, fs, match.path, reader)
            if reader.get("include_path"):
                frame.insert(0, "Path", match.portable)
            if fmt is not None:
                for column, value in fmt.values(match.relpath).items():
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

    def partition_by(self, partition_keys, target, name: str | None = None,
                     show_progress: bool = True, partition_as_file_dataset: bool = False):
        """Write the rows as Parquet partitioned by ``partition_keys`` to
        ``<target>/<new guid>/<key1 value>/<key2 value>/part-00000.parquet`` (datetime keys as
        ``yyyyMMddHHmmss``; the key columns are stored in the path, not in the files) and return
        the TabularDataset (a FileDataset with ``partition_as_file_dataset=True``) of them, whose
        ``partition_format`` gives the keys back as columns (non-datetime keys with their
        original type). Registered as ``name`` (a new version) when ``name`` is given.

        ``target``: a DataPath, a Datastore or ``(datastore, 'folder')``. Raises
        UserErrorException for empty, duplicate or unknown keys, a bad target, and key values
        that cannot be a folder name (empty, null, or containing ``.``, ``/`` or ``\\``).
        """
        from ._partition_writer import write_partitions
        return write_partitions(self, partition_keys, target, name, show_progress,
                                partition_as_file_dataset)

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
            elif kind.startswith("datetime:"):   # DataType.to_datetime(formats)
                frame[column] = _to_datetime(pd, frame[column], kind[len("datetime:"):].split("|"),
                                             errors)
            elif kind == "float64:,":            # DataType.to_float(decimal_mark=',')
                text = frame[column].astype("string").str.replace(".", "", regex=False)
                frame[column] = pd.to_numeric(text.str.replace(",", ".", regex=False),
                                              errors=errors).astype("float64")
            elif kind == "boolean" and frame[column].dtype == object:   # text such as "True"
                words = frame[column].map(lambda v: _BOOL_WORDS.get(str(v).strip().lower(), v)
                                          if isinstance(v, str) else v)
                frame[column] = words.astype("boolean") if errors == "raise" else words.map(
                    lambda v: v if isinstance(v, bool) else None).astype("boolean")
            elif kind in ("Int64", "float64"):
                frame[column] = pd.to_numeric(frame[column], errors=errors).astype(kind)
            else:
                frame[column] = frame[column].astype(kind)
        except (ValueError, TypeError) as exc:
            raise UserErrorException(f"column {column!r} does not convert to {kind}: {exc}") from exc
    return frame


def _to_datetime(pd, column, formats: list[str], errors: str):
    """Each value parsed with the first of ``formats`` that reads it; NaT (or, with
    ``errors='raise'``, an error) when none does."""
    result = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
    for fmt in formats:
        parsed = pd.to_datetime(column, format=fmt, errors="coerce")
        result = result.fillna(parsed)
    if errors == "raise" and (result.isna() & column.notna()).any():
        bad = column[result.isna() & column.notna()].iloc[0]
        raise ValueError(f"{bad!r} matches none of the formats {formats}")
    return result


def _count(count, what: str) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise UserErrorException(f"{what}(count) needs a whole number >= 0, not {count!r}")
    return count
