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

from .abstract_dataset import Dataset
from ..errors import UserErrorException
from ._transforms import apply_to_frame, count as _count, row_limit

_TYPE_NAMES = {int: "Int64", float: "float64", str: "string", bool: "boolean"}
_ALIASES = {"int": "Int64", "integer": "Int64", "long": "Int64", "float": "float64",
            "double": "float64", "str": "string", "string": "string", "bool": "boolean",
            "boolean": "boolean", "datetime": "datetime", "date": "datetime"}
_NO_STREAMS = ("TabularDataset.{what}({column!r}) needs a stream column, and amlocal's "
               "TabularDatasets have none (DataType.to_stream is not read locally). To get the "
               "files themselves use a FileDataset: Dataset.File.from_files(path).{what}(...)")
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

    _TYPE = "TabularDataset"  # the definition's "type" (Dataset._from_definition picks this class)

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null"):
        """Read every file (sorted by path) into one pandas DataFrame.

        Raises UserErrorException when a file cannot be parsed, when Parquet support is missing
        (install pyarrow), or, with ``on_error='fail'``, when a value does not convert.
        """
        import pandas as pd
        if on_error not in ("null", "fail"):
            raise UserErrorException("on_error must be 'null' or 'fail'")
        reader = self._definition["reader"]
        if reader.get("format") == "sql":   # a query (from_sql_query): see _sql_dataset
            from ._sql_dataset import read_frame
            frame = _apply_types(pd, read_frame(self), reader.get("set_column_types") or {},
                                 on_error)
            return apply_to_frame(frame, self._transforms()).reset_index(drop=True)
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
        return apply_to_frame(frame, self._transforms()).reset_index(drop=True)

    def take(self, count: int) -> "TabularDataset":
        """A new TabularDataset of the first ``count`` rows."""
        return self._with_transform({"take": _count(count, "take")})

    def skip(self, count: int) -> "TabularDataset":
        """A new TabularDataset without the first ``count`` rows."""
        return self._with_transform({"skip": _count(count, "skip")})

    def take_sample(self, probability: float, seed: int | None = None) -> "TabularDataset":
        """A new TabularDataset keeping each row with ``probability`` (seeded: the same seed
        gives the same rows; see :mod:`._transforms` for a None seed)."""
        from ._transforms import check_probability, check_seed
        return self._with_transform({"take_sample": {
            "probability": check_probability(probability, "probability"),
            "seed": check_seed(seed)}})

    def random_split(self, percentage: float, seed: int | None = None) -> tuple:
        """Two new TabularDatasets: about ``percentage`` of the rows, and the others. Together
        they hold every row exactly once."""
        from ._transforms import check_probability, check_seed
        spec = {"percentage": check_probability(percentage, "percentage"),
                "seed": check_seed(seed)}
        return (self._with_transform({"random_split": {**spec, "part": 0}}),
                self._with_transform({"random_split": {**spec, "part": 1}}))

    def keep_columns(self, columns, validate: bool = False) -> "TabularDataset":
        """A new TabularDataset with only ``columns`` (a name or a list). A timestamp column
        not kept is no longer a timestamp column, as in Azure. With ``validate`` the data is
        read now and a missing column raises UserErrorException (otherwise when it is read)."""
        from ._timeseries import timestamp_columns
        from ._transforms import check_columns
        names = check_columns(columns, "keep_columns")
        result = self._with_transform({"keep_columns": names})
        fine, coarse = timestamp_columns(self._definition)
        if fine and fine not in names:
            result = result.with_timestamp_columns(None)
        elif coarse and coarse not in names:
            result = result.with_timestamp_columns(fine)
        if validate:
            result.take(1).to_pandas_dataframe()
        return result

    def drop_columns(self, columns) -> "TabularDataset":
        """A new TabularDataset without ``columns`` (a name or a list); reading it raises
        UserErrorException naming a column the data does not have. A dropped timestamp column
        is no longer a timestamp column, as in Azure."""
        from ._timeseries import timestamp_columns
        from ._transforms import check_columns
        names = check_columns(columns, "drop_columns")
        result = self._with_transform({"drop_columns": names})
        fine, coarse = timestamp_columns(self._definition)
        if fine and fine in names:
            result = result.with_timestamp_columns(None)
        elif coarse and coarse in names:
            result = result.with_timestamp_columns(fine)
        return result

    def __getitem__(self, column: str):
        """The expression of ``column`` for :meth:`filter` (``dataset['age'] > 30``)."""
        from ._expressions import column as make
        return make(column)

    def filter(self, expression) -> "TabularDataset":
        """A new TabularDataset of the rows where ``expression`` holds, e.g.
        ``ds.filter((ds['age'] > 30) & ds['name'].starts_with('A'))``; the operations
        supported are listed in :mod:`amlocal.data._expressions`."""
        from ._expressions import expression_node
        return self._with_transform({"filter": expression_node(expression)})

    # -- time series ------------------------------------------------------------------------
    @property
    def timestamp_columns(self) -> tuple:
        """``(timestamp, partition_timestamp)`` column names, None where undefined."""
        from ._timeseries import timestamp_columns
        return timestamp_columns(self._definition)

    def with_timestamp_columns(self, timestamp: str | None = None,
                               partition_timestamp: str | None = None, validate: bool = False,
                               **kwargs) -> "TabularDataset":
        """A new TabularDataset with these timestamp columns (None clears them), which the
        ``time_*`` filters read. ``fine_grain_timestamp``/``coarse_grain_timestamp`` are the
        deprecated names of the two arguments, as in Azure. With ``validate`` the columns must
        exist and hold datetimes."""
        import warnings
        from ._timeseries import check_columns_exist, with_columns
        fine, coarse = kwargs.pop("fine_grain_timestamp", None), kwargs.pop("coarse_grain_timestamp", None)
        if kwargs:
            raise UserErrorException(f"unexpected arguments {sorted(kwargs)}")
        if fine:
            warnings.warn("fine_grain_timestamp is deprecated, use timestamp.", DeprecationWarning)
        if coarse:
            warnings.warn("coarse_grain_timestamp is deprecated, use partition_timestamp.",
                          DeprecationWarning)
        if (timestamp or partition_timestamp) and (fine or coarse):
            raise UserErrorException(
                "fine_grain_timestamp and coarse_grain_timestamp have been replaced by timestamp "
                "and partition_timestamp parameters and cannot be used together.")
        if not timestamp:
            timestamp, partition_timestamp = fine, partition_timestamp or coarse
        if validate:
            check_columns_exist(self, [timestamp, partition_timestamp])
        result = TabularDataset(with_columns(self._definition, timestamp, partition_timestamp),
                                self._workspace)
        return result

    def time_before(self, end_time, include_boundary: bool = True,
                    validate: bool = True) -> "TabularDataset":
        """The rows whose timestamp columns are before ``end_time`` (a datetime)."""
        return self._time("time_before", None, end_time, include_boundary, validate)

    def time_after(self, start_time, include_boundary: bool = True,
                   validate: bool = True) -> "TabularDataset":
        """The rows whose timestamp columns are after ``start_time`` (a datetime)."""
        return self._time("time_after", start_time, None, include_boundary, validate)

    def time_between(self, start_time, end_time, include_boundary: bool = True,
                     validate: bool = True) -> "TabularDataset":
        """The rows whose timestamp columns are between ``start_time`` and ``end_time``."""
        return self._time("time_between", start_time, end_time, include_boundary, validate)

    def time_recent(self, time_delta, include_boundary: bool = True,
                    validate: bool = True) -> "TabularDataset":
        """The rows whose timestamp columns are within ``time_delta`` (a timedelta) of now
        (local time, as Azure's ``datetime.now()``)."""
        import datetime
        if not isinstance(time_delta, datetime.timedelta):
            raise UserErrorException(f"time_delta must be a datetime.timedelta, not {time_delta!r}")
        return self._time("time_recent", datetime.datetime.now() - time_delta, None,
                          include_boundary, validate)

    def _time(self, method: str, lower, upper, include_boundary: bool, validate: bool):
        from ._expressions import expression_node
        from ._timeseries import check_columns_exist, time_filter
        condition = time_filter(self._definition, method, lower, upper, include_boundary)
        if validate:
            check_columns_exist(self, list(self.timestamp_columns))
        return self._with_transform({"filter": expression_node(condition)})

    # -- conversions ------------------------------------------------------------------------
    def to_csv_files(self, separator: str = ","):
        """The rows written as CSV and returned as a FileDataset of that file (see
        :func:`amlocal.data._conversions.materialize` for where it is written)."""
        from ._conversions import materialize
        if not isinstance(separator, str) or len(separator) != 1:
            raise UserErrorException(f"separator must be one character, not {separator!r}")
        return materialize(self, "csv", separator)

    def to_parquet_files(self):
        """The rows written as Parquet and returned as a FileDataset of that file (see
        :func:`amlocal.data._conversions.materialize`)."""
        from ._conversions import materialize
        return materialize(self, "parquet", ",")

    def to_dask_dataframe(self, sample_size: int = 10000, dtypes=None, on_error: str = "null",
                          out_of_range_datetime: str = "null"):
        """A dask DataFrame of the rows (needs ``pip install dask``). Deliberate difference:
        the rows are read with pandas first and handed to dask in partitions (Azure streams
        them); ``sample_size`` and ``dtypes`` are checked as Azure's and ``dtypes`` applied."""
        from ._conversions import to_dask
        return to_dask(self, sample_size, dtypes, on_error, out_of_range_datetime)

    def to_spark_dataframe(self):
        """A Spark DataFrame of the rows, in the active (or a new local) Spark session; needs
        pyspark (``pip install pyspark`` and a Java runtime)."""
        from ._conversions import to_spark
        return to_spark(self)

    # -- stream columns ---------------------------------------------------------------------
    def download(self, stream_column, target_path=None, overwrite=False, ignore_not_found=True):
        """Raises UserErrorException, as Azure does for a column that is not a stream column:
        amlocal's TabularDatasets have no stream columns (DataType.to_stream is not read
        locally). Use a FileDataset: ``Dataset.File.from_files(path).download(target_path)``."""
        raise UserErrorException(_NO_STREAMS.format(what="download", column=stream_column))

    def mount(self, stream_column, mount_point=None):
        """Raises UserErrorException (see :meth:`download`); use ``FileDataset.mount()``."""
        raise UserErrorException(_NO_STREAMS.format(what="mount", column=stream_column))

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

    @property
    def _amlocal_cache_result(self) -> bool:
        """amlocal's addition, for datasets read by a SQL query: True caches the query's result
        across runs (the rows leave the reuse key of the steps reading it, so a previous result
        of the same query is reused even when the table changed; see ``_sql_dataset``)."""
        from ._sql_dataset import cache_result
        return cache_result(self)

    @_amlocal_cache_result.setter
    def _amlocal_cache_result(self, value: bool) -> None:
        from ._sql_dataset import is_query_definition, set_cache_result
        if not is_query_definition(self._definition):
            raise UserErrorException("_amlocal_cache_result applies to datasets read by a SQL "
                                     "query (Dataset.Tabular.from_sql_query) only")
        set_cache_result(self, value)

    # -- internals --------------------------------------------------------------------------
    def _with_transform(self, step: dict) -> "TabularDataset":
        definition = copy.deepcopy(self._definition)
        definition.setdefault("transforms", []).append(step)
        return TabularDataset(definition, self._workspace)

    def _row_limit(self) -> int | None:
        """Rows that must be read to apply the transforms, None for all."""
        return row_limit(self._transforms())

    def _transforms(self) -> list[dict]:
        """The transformations to apply after reading: those of the reader settings (an
        output read as a table carries them there, see ``PipelineOutputTabularDataset``),
        then the dataset's own."""
        reader = self._definition.get("reader") or {}
        return list(reader.get("transforms") or []) + list(self._definition.get("transforms") or [])

    @staticmethod
    def _read_one(pd, fs, path: str, reader: dict):
        try:
            with fs.open(path, "rb") as handle:
                if reader["format"] == "parquet":
                    # No Arrow thread pools for a Python file object: their threads can still be
                    # alive at interpreter exit and abort it (apache/arrow#34314).
                    return pd.read_parquet(handle, engine="pyarrow", use_threads=False,
                                           pre_buffer=False)
                if reader["format"] == "json_lines":
                    return _read_json_lines(pd, handle, path, reader)
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


_ENCODINGS = {"utf8": "utf-8", "iso88591": "iso-8859-1", "latin1": "latin-1", "ascii": "ascii",
              "utf16": "utf-16", "utf32": "utf-32", "utf8bom": "utf-8-sig",
              "windows1252": "cp1252"}


def _read_json_lines(pd, handle, path: str, reader: dict):
    """One JSON object per line (blank lines skipped); a line that is not a JSON object raises
    naming it, or is skipped with ``invalid_lines='drop'``."""
    import json
    encoding = reader.get("encoding") or "utf8"
    text = handle.read().decode(_ENCODINGS.get(encoding.replace("-", "").lower(), encoding))
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if reader.get("invalid_lines") == "drop":
                continue
            raise UserErrorException(
                f"line {number} of {path} is not a JSON object ({exc}); fix it or pass "
                "invalid_lines='drop'") from None
        rows.append(row)
    return pd.DataFrame.from_records(rows)


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


from .._cloud_only import cloud_only_function  # noqa: E402

_PROFILE = "data profiles are computed by Azure ML's profiling service"
_PROFILE_ALT = "ds.to_pandas_dataframe().describe(include='all') (or ydata-profiling on that frame)"
TabularDataset.get_profile = cloud_only_function(
    "azureml.data.tabular_dataset.TabularDataset", "get_profile", _PROFILE, _PROFILE_ALT)
TabularDataset.get_profile_runs = cloud_only_function(
    "azureml.data.tabular_dataset.TabularDataset", "get_profile_runs", _PROFILE, _PROFILE_ALT)
TabularDataset.submit_profile_run = cloud_only_function(
    "azureml.data.tabular_dataset.TabularDataset", "submit_profile_run", _PROFILE, _PROFILE_ALT)
