"""Dataset factories (``azureml.data.dataset_factory``): ``TabularDatasetFactory``,
``FileDatasetFactory`` (aliased as ``Dataset.Tabular`` and ``Dataset.File``) and ``DataType``.

``path`` everywhere is a ``(datastore, 'rel/**/*.csv')`` tuple (a leading ``/`` is allowed), a
DataPath, a ``file://``/fsspec URL or an absolute local path, or a list of these; globs are
allowed and a folder means every file below it. ``partition_format`` adds columns read from the
files' paths (rules in :mod:`._partition_format`); an invalid one raises at once.

Validation (``validate=True``, the default) follows Azure's factories: the dataset must load data,
and here each source must match at least one file (the error names those that match none). With
``validate=False`` the dataset is created as given; reading it later raises the same error, as
Azure's engine raises "no resources found" then.

Deliberate differences from Azure: ``header`` is True/False only; ``set_column_types`` maps columns
to a ``DataType``, ``int``, ``float``, ``str``, ``bool``, ``"datetime"`` or a pandas dtype name;
quoted multi-line values are always read (``support_multi_line`` is recorded only);
``from_files`` validates even without ``partition_format`` (Azure's checks only then).
"""
from __future__ import annotations

from .._cloud_only import cloud_only_function
from .abstract_dataset import Dataset
from ._dataset_sources import _definition, _parse_paths, _target  # noqa: F401
from ..errors import UserErrorException


class DataType:
    """A column type for ``set_column_types``: ``DataType.to_long()``, ``to_float()``,
    ``to_string()``, ``to_bool()``, ``to_datetime(formats)``.

    ``to_stream`` (a column of file streams, read through a workspace) raises: read the files of
    a FileDataset instead (``download()``/``as_mount()``)."""

    def __init__(self, reader_type: str = "string"):
        self._reader_type = reader_type

    @staticmethod
    def to_string() -> "DataType":
        """Text."""
        return DataType("string")

    @staticmethod
    def to_long() -> "DataType":
        """A 64-bit integer (nullable)."""
        return DataType("Int64")

    @staticmethod
    def to_float(decimal_mark: str = ".") -> "DataType":
        """A 64-bit float; ``decimal_mark`` is ``'.'`` or ``','`` (``1234,56``)."""
        if decimal_mark not in (".", ","):
            raise UserErrorException(f"decimal_mark must be '.' or ',', not {decimal_mark!r}")
        return DataType("float64" if decimal_mark == "." else "float64:,")

    @staticmethod
    def to_bool() -> "DataType":
        """A boolean (nullable)."""
        return DataType("boolean")

    @staticmethod
    def to_datetime(formats=None) -> "DataType":
        """A datetime; ``formats`` are strftime formats tried in order (e.g. ``'%d/%m/%Y'``),
        None to infer."""
        if formats is None:
            return DataType("datetime")
        formats = [formats] if isinstance(formats, str) else list(formats)
        if not formats or not all(isinstance(f, str) and f for f in formats):
            raise UserErrorException("formats must be a strftime format such as '%Y-%m-%d' or a "
                                     "list of them")
        return DataType("datetime:" + "|".join(formats))

    @staticmethod
    def to_stream(workspace, escaped: bool = False):
        """Raises UserErrorException: stream columns are not read locally."""
        raise UserErrorException(
            "DataType.to_stream is not supported locally: read the files with a FileDataset "
            "(Dataset.File.from_files(...).download() or .as_mount() in a step)")

    def __eq__(self, other) -> bool:
        return isinstance(other, DataType) and other._reader_type == self._reader_type

    def __hash__(self) -> int:
        return hash(self._reader_type)

    def __repr__(self) -> str:
        return f"DataType({self._reader_type!r})"


class FileDatasetFactory:
    """``Dataset.File``: create FileDatasets."""

    @staticmethod
    def from_files(path, validate: bool = True, partition_format: str | None = None,
                   is_file: bool = False):
        """A FileDataset of the files ``path`` names (see the module docstring). With
        ``validate=True`` each source must match at least one file.

        Raises UserErrorException for an unsupported ``path``, a path leaving its datastore, an
        invalid ``partition_format``, or (``validate``) a source matching no file.
        """
        from .file_dataset import FileDataset
        sources, workspace = _parse_paths(path)
        _check_partition_format(partition_format)
        definition = _definition("FileDataset", sources, partition_format=partition_format,
                                 is_file=bool(is_file))
        dataset = FileDataset(definition, workspace)
        if validate:
            dataset._validate()
        return dataset

    @staticmethod
    def upload_directory(src_dir, target, pattern: str | None = None, overwrite: bool = False,
                         show_progress: bool = True):
        """Upload every file below ``src_dir`` (only those whose absolute path matches the glob
        ``pattern``, as in Azure) to ``target`` (a DataPath, a Datastore or ``(datastore,
        path)``), keeping the folder layout; existing files are skipped unless ``overwrite``.
        Return a FileDataset of ``target``.

        Raises UserErrorException for a missing ``src_dir``, a bad ``target``, or no file.
        """
        import fnmatch
        from pathlib import Path
        datastore, folder = _target(target)
        root = Path(src_dir).absolute()
        if not root.is_dir():
            raise UserErrorException(f"src_dir {str(src_dir)!r} is not a folder")
        if pattern is not None and not isinstance(pattern, str):
            raise UserErrorException("pattern must be a glob string such as '*.csv'")
        files = sorted(p.as_posix() for p in root.rglob("*") if p.is_file()
                       and (pattern is None or fnmatch.fnmatch(p.as_posix(), pattern)))
        if not files:
            raise UserErrorException(
                f"no file below {str(src_dir)!r} matches {pattern or '*'!r} (the pattern is "
                "matched against absolute paths, e.g. '*/images/*.png')")
        datastore.upload_files(files, relative_root=str(root), target_path=folder or None,
                               overwrite=overwrite, show_progress=show_progress)
        return FileDatasetFactory.from_files((datastore, folder or "/"))


class TabularDatasetFactory:
    """``Dataset.Tabular``: create TabularDatasets."""

    @staticmethod
    def from_delimited_files(path, validate: bool = True, include_path: bool = False,
                             infer_column_types: bool = True, set_column_types: dict | None = None,
                             separator: str = ",", header: bool = True,
                             partition_format: str | None = None, support_multi_line: bool = False,
                             empty_as_string: bool = False, encoding: str = "utf8"):
        """A TabularDataset read from delimited files (see the module docstring)."""
        from .tabular_dataset import reader_types
        sources, workspace = _parse_paths(path)
        if not isinstance(header, bool):
            raise UserErrorException("header must be True (first line has column names) or False")
        _check_partition_format(partition_format)
        reader = {"format": "delimited", "separator": separator, "header": header,
                  "encoding": encoding, "infer_column_types": bool(infer_column_types),
                  "set_column_types": reader_types(set_column_types),
                  "include_path": bool(include_path), "support_multi_line": bool(support_multi_line),
                  "empty_as_string": bool(empty_as_string)}
        return _tabular(sources, workspace, reader, partition_format, validate)

    @staticmethod
    def from_parquet_files(path, validate: bool = True, include_path: bool = False,
                           set_column_types: dict | None = None, partition_format: str | None = None):
        """A TabularDataset read from Parquet files (needs pyarrow when it is read)."""
        from .tabular_dataset import reader_types
        sources, workspace = _parse_paths(path)
        _check_partition_format(partition_format)
        reader = {"format": "parquet", "include_path": bool(include_path),
                  "set_column_types": reader_types(set_column_types)}
        return _tabular(sources, workspace, reader, partition_format, validate)

    @staticmethod
    def from_json_lines_files(path, validate: bool = True, include_path: bool = False,
                              set_column_types: dict | None = None,
                              partition_format: str | None = None, invalid_lines: str = "error",
                              encoding: str = "utf8"):
        """A TabularDataset read from JSON Lines files (one JSON object per line; nested
        values stay Python objects). ``invalid_lines='error'`` raises on a line that is not
        JSON, ``'drop'`` skips it. ``encoding``: Azure's names (``utf8``, ``iso88591``,
        ``latin1``, ``ascii``, ``utf16``, ``utf32``, ``utf8bom``, ``windows1252``) or Python's."""
        from .tabular_dataset import reader_types
        if invalid_lines not in ("error", "drop"):
            raise UserErrorException(f"invalid_lines must be 'error' or 'drop', not {invalid_lines!r}")
        sources, workspace = _parse_paths(path)
        _check_partition_format(partition_format)
        reader = {"format": "json_lines", "include_path": bool(include_path),
                  "set_column_types": reader_types(set_column_types),
                  "invalid_lines": invalid_lines, "encoding": encoding}
        return _tabular(sources, workspace, reader, partition_format, validate)

    @staticmethod
    def from_sql_query(query, validate: bool = True, set_column_types: dict | None = None,
                       query_timeout: int = 30):
        """A TabularDataset of the rows ``query`` answers: ``(sql_datastore, 'SELECT ...')``
        or ``DataPath(sql_datastore, 'SELECT ...')`` on a SQL datastore (any kind: Azure
        SQL, PostgreSQL, MySQL or ``Datastore.register_sql``). The query runs on the host
        whenever the rows are read (``to_pandas_dataframe``, or when a step that has the
        dataset as an input starts: the step gets the rows as Parquet, see
        :mod:`._sql_dataset`); ``query_timeout`` seconds bound it. Column types are the
        database's; ``set_column_types`` overrides them.

        With ``validate`` the query runs now (its rows are not read). Raises
        UserErrorException for an argument that is not a SQL datastore and a query, and
        (``validate``) a query the database refuses, naming the datastore and the database's
        message."""
        from ._sql_dataset import sql_definition, store_and_query, validate as check
        from .tabular_dataset import TabularDataset, reader_types
        datastore, text = store_and_query(query)
        dataset = TabularDataset(sql_definition(datastore.name, text,
                                                reader_types(set_column_types), query_timeout),
                                 datastore.workspace)
        if validate:
            check(dataset)
        return dataset

    @staticmethod
    def register_pandas_dataframe(dataframe, target, name: str, description: str | None = None,
                                  tags: dict | None = None, show_progress: bool = True,
                                  row_group_size: int | None = None,
                                  make_target_path_unique: bool = True):
        """Write ``dataframe`` as ``dataframe.parquet`` to ``target`` (a DataPath, a Datastore
        or ``(datastore, 'folder')``; below a new ``<guid>/`` folder unless
        ``make_target_path_unique=False``) and register a TabularDataset of it as a new version
        of ``name``; return the registered dataset. Column names become text, as in Azure."""
        from ._conversions import register_pandas
        return register_pandas(dataframe, target, name, description, tags, show_progress,
                               row_group_size, make_target_path_unique)

    @staticmethod
    def register_dask_dataframe(dataframe, target, name: str, description: str | None = None,
                                tags: dict | None = None, show_progress: bool = True):
        """Write the dask ``dataframe`` as Parquet to ``target``/<guid>/ and register a
        TabularDataset of it as a new version of ``name`` (needs ``pip install dask``)."""
        from ._conversions import register_dask
        return register_dask(dataframe, target, name, description, tags, show_progress)


_SPARK = "writing a Spark DataFrame needs the Spark compute of Azure (Synapse / Databricks)"
TabularDatasetFactory.register_spark_dataframe = staticmethod(cloud_only_function(
    "azureml.data.dataset_factory.TabularDatasetFactory", "register_spark_dataframe", _SPARK,
    "df.toPandas() then Dataset.Tabular.register_pandas_dataframe(frame, (datastore, 'folder'), "
    "name)"))


def _check_partition_format(partition_format) -> None:
    if partition_format is not None:
        from ._partition_format import parse
        parse(partition_format)


def _tabular(sources: list, workspace, reader: dict, partition_format, validate: bool):
    """The TabularDataset over ``sources`` read with ``reader``; validated (every source matches
    a file) when ``validate``."""
    from .tabular_dataset import TabularDataset
    dataset = TabularDataset(_definition("TabularDataset", sources, reader=reader,
                                         partition_format=partition_format, transforms=[]),
                             workspace)
    if validate:
        dataset._validate()
    return dataset


# ``Dataset.File`` and ``Dataset.Tabular`` (as in Azure) are these factories. They are set here,
# above the dataset classes they build, and this module loads with the package (``amlocal.data``
# imports it), so the base class needs no import of its factories.
Dataset.File = FileDatasetFactory
Dataset.Tabular = TabularDatasetFactory
