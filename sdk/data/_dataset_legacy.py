"""The methods of Azure's deprecated pre-2019 ``Dataset`` class (``azureml.core.dataset.Dataset``
before FileDataset/TabularDataset), kept on amlocal's ``Dataset`` so old scripts run.

Where a modern equivalent exists the method forwards to it with a DeprecationWarning naming the
replacement (``Dataset.get`` -> ``Dataset.get_by_name`` / ``get_by_id``, ``from_delimited_files``
-> ``Dataset.Tabular.from_delimited_files`` ...). Definition versions, snapshots, profiles,
archiving and diffs were features of the old Dataset service and are cloud-only here.
"""
from __future__ import annotations

import warnings

from .._cloud_only import cloud_only_function
from ..errors import UserErrorException

_QUAL = "azureml.core.dataset.Dataset"
_OLD_SERVICE = "the pre-2019 Dataset API of the Azure ML service (definitions, snapshots, " \
               "profiles, lifecycle states) is deprecated there and not part of amlocal"


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"Dataset.{old} is deprecated; use {new} instead", DeprecationWarning,
                  stacklevel=3)


def _header(header) -> bool:
    """Azure's PromoteHeadersBehavior (0 = no headers, 1-3 = a header line) or a bool."""
    value = getattr(header, "value", header)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and 0 <= value <= 3:
        return value != 0
    raise UserErrorException(f"header {header!r} is not valid: give True/False or a "
                             "PromoteHeadersBehavior value")


class LegacyDatasetMethods:
    """Mixed into ``Dataset``; see the module docstring."""

    @classmethod
    def get(cls, workspace, name: str | None = None, id: str | None = None):
        """Deprecated: ``Dataset.get_by_name(workspace, name)`` or
        ``Dataset.get_by_id(workspace, id)``."""
        if (name is None) == (id is None):
            raise UserErrorException("give exactly one of name and id")
        if name is not None:
            _deprecated("get", "Dataset.get_by_name(workspace, name)")
            return cls.get_by_name(workspace, name)
        _deprecated("get", "Dataset.get_by_id(workspace, id)")
        return cls.get_by_id(workspace, id)

    @classmethod
    def list(cls, workspace):
        """Deprecated: ``Dataset.get_all(workspace)`` (a dict by name); this returns its values,
        the latest version of each registered dataset."""
        _deprecated("list", "Dataset.get_all(workspace)")
        return [ds for ds in cls.get_all(workspace).values()]

    @classmethod
    def from_delimited_files(cls, path, separator: str = ",", header=True, encoding="utf8",
                             quoting: bool = False, infer_column_types: bool = True,
                             skip_rows: int = 0, skip_mode=None, comment=None,
                             include_path: bool = False, archive_options=None,
                             partition_format: str | None = None):
        """Deprecated: ``Dataset.Tabular.from_delimited_files``. ``skip_rows``, ``comment`` and
        ``archive_options`` have no modern equivalent: they raise when set."""
        if skip_rows or comment is not None or archive_options is not None:
            raise UserErrorException(
                "skip_rows, comment and archive_options are not supported; prepare the files "
                "first, then use Dataset.Tabular.from_delimited_files")
        _deprecated("from_delimited_files", "Dataset.Tabular.from_delimited_files(path)")
        enc = getattr(encoding, "name", encoding)
        return cls.Tabular.from_delimited_files(
            path, include_path=include_path, infer_column_types=infer_column_types,
            separator=separator, header=_header(header), partition_format=partition_format,
            support_multi_line=bool(quoting),
            encoding=str(enc).lower() if isinstance(enc, str) else "utf8")

    @classmethod
    def from_parquet_files(cls, path, include_path: bool = False, partition_format: str | None = None):
        """Deprecated: ``Dataset.Tabular.from_parquet_files``."""
        _deprecated("from_parquet_files", "Dataset.Tabular.from_parquet_files(path)")
        return cls.Tabular.from_parquet_files(path, include_path=include_path,
                                                        partition_format=partition_format)

    @classmethod
    def from_binary_files(cls, path):
        """Deprecated: ``Dataset.File.from_files``."""
        _deprecated("from_binary_files", "Dataset.File.from_files(path)")
        return cls.File.from_files(path)

    @classmethod
    def auto_read_files(cls, path, include_path: bool = False, partition_format: str | None = None):
        """Deprecated: ``Dataset.Tabular.from_parquet_files`` when every path ends with
        ``.parquet``, else ``Dataset.Tabular.from_delimited_files`` (the separator is not
        sniffed: comma)."""
        items = path if isinstance(path, list) else [path]
        texts = [str(getattr(i, "path_on_datastore", None) or (i[1] if isinstance(i, tuple) else i))
                 for i in items]
        if all(t.endswith(".parquet") for t in texts):
            _deprecated("auto_read_files", "Dataset.Tabular.from_parquet_files(path)")
            return cls.Tabular.from_parquet_files(path, include_path=include_path,
                                                            partition_format=partition_format)
        _deprecated("auto_read_files", "Dataset.Tabular.from_delimited_files(path)")
        return cls.Tabular.from_delimited_files(path, include_path=include_path,
                                                          partition_format=partition_format)

    def head(self, count: int):
        """Deprecated: ``dataset.take(count).to_pandas_dataframe()``."""
        _deprecated("head", "dataset.take(count).to_pandas_dataframe()")
        return self._tabular("head").take(count).to_pandas_dataframe()

    def sample(self, sample_strategy: str, arguments: dict):
        """Deprecated: ``take(n)`` for ``'top_n'`` (``{'n': ...}``), ``take_sample(probability,
        seed)`` for ``'simple_random'`` (``{'probability': ..., 'seed': ...}``). Stratified
        sampling has no modern equivalent and raises."""
        arguments = dict(arguments or {})
        strategy = str(sample_strategy).lower()
        if strategy == "top_n":
            _deprecated("sample", "dataset.take(n)")
            return self.take(arguments["n"])
        if strategy == "simple_random":
            _deprecated("sample", "dataset.take_sample(probability, seed)")
            return self.take_sample(arguments["probability"], arguments.get("seed"))
        raise UserErrorException(
            f"sample strategy {sample_strategy!r} is not supported: use 'top_n' (dataset.take) "
            "or 'simple_random' (dataset.take_sample)")

    def to_pandas_dataframe(self, *args, **kwargs):
        """Only a TabularDataset has rows: raises UserErrorException for a FileDataset."""
        raise self._not_tabular("to_pandas_dataframe")

    def to_spark_dataframe(self):
        """Only a TabularDataset has rows: raises UserErrorException for a FileDataset."""
        raise self._not_tabular("to_spark_dataframe")

    def _tabular(self, what: str):
        if not hasattr(type(self), "keep_columns"):
            raise self._not_tabular(what)
        return self

    def _not_tabular(self, what: str) -> UserErrorException:
        return UserErrorException(
            f"{type(self).__name__} has no rows, so {what} does not apply; read the files with "
            "download()/mount(), or create a TabularDataset with "
            "Dataset.Tabular.from_delimited_files(...)")


def _old(name: str, alternative: str | None = None):
    return cloud_only_function(_QUAL, name, _OLD_SERVICE, alternative)


for _name, _alternative in {
        "archive": None, "reactivate": None, "deprecate": None,
        "create_snapshot": "register a new version: dataset.register(ws, name, "
                           "create_new_version=True)",
        "delete_snapshot": None, "get_snapshot": "Dataset.get_by_name(ws, name, version)",
        "get_all_snapshots": "Dataset.get_all(ws)",
        "get_definition": "Dataset.get_by_name(ws, name, version)",
        "get_definitions": "Dataset.get_by_name(ws, name, version) for each version",
        "update_definition": "register the new dataset with dataset.register(ws, name, "
                             "create_new_version=True)",
        "generate_profile": "ds.to_pandas_dataframe().describe(include='all')",
        "get_profile": "ds.to_pandas_dataframe().describe(include='all')",
        "compare_profiles": "compare ds.to_pandas_dataframe().describe() of both datasets",
        "diff": "compare the two datasets' to_pandas_dataframe() with pandas",
        "from_excel_files": "pandas.read_excel(...) then Dataset.Tabular.register_pandas_dataframe"
                            "(frame, (datastore, 'folder'), name)",
        "from_json_files": "Dataset.Tabular.from_json_lines_files(path) for JSON Lines, or "
                           "pandas.read_json then Dataset.Tabular.register_pandas_dataframe",
        "from_pandas_dataframe": "Dataset.Tabular.register_pandas_dataframe(frame, "
                                 "(datastore, 'folder'), name)"}.items():
    setattr(LegacyDatasetMethods, _name, staticmethod(_old(_name, _alternative)))

def _from_sql_query(cls, data_source, query):
    """Deprecated: ``Dataset.Tabular.from_sql_query((data_source, query))``; ``data_source`` is
    a SQL datastore."""
    _deprecated("from_sql_query", "Dataset.Tabular.from_sql_query((datastore, query))")
    return cls.Tabular.from_sql_query((data_source, query))


LegacyDatasetMethods.from_sql_query = classmethod(_from_sql_query)
