"""Dataset: the base of FileDataset and TabularDataset, with the ``Dataset.File`` and
``Dataset.Tabular`` factories (``azureml.core.dataset`` and ``azureml.data.dataset_factory``).

A dataset is a *definition*, plain JSON naming datastores by NAME plus a relative path pattern
(or a URL), never the datastore's URL: a published pipeline freezes the definition and the runner
resolves the datastore when the step runs. ``dataset.id`` is the sha256 of the canonical JSON.

Deliberate differences from Azure: FileDataset and TabularDataset subclass this ``Dataset``
(Azure: ``AbstractDataset``); registration (``register``, ``get_by_name``) is not there yet.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path, PurePath
from urllib.parse import quote

from ..errors import UserErrorException

SCHEMA_VERSION = 1
_NO_DATA = ("Cannot load any data from the specified path. Make sure the path is accessible and "
            "contains data.")


class Dataset:
    """Base class; build datasets with ``Dataset.File.from_files(...)`` or
    ``Dataset.Tabular.from_delimited_files(...)``."""

    File: "type[FileDatasetFactory]"
    Tabular: "type[TabularDatasetFactory]"

    def __init__(self, definition: dict, workspace=None):
        self._definition = definition
        self._workspace = workspace
        self._name = None
        self._version = None

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """sha256 of the definition's canonical JSON: equal definitions, equal ids."""
        from amlocal.datastores.paths import definition_id
        return definition_id(self._definition)

    @property
    def name(self) -> str | None:
        """None until registered (registration arrives in a later version)."""
        return self._name

    @property
    def version(self) -> int | None:
        return self._version

    def _to_definition(self) -> dict:
        """The definition as plain JSON data (a copy)."""
        return copy.deepcopy(self._definition)

    @staticmethod
    def _from_definition(definition: dict, workspace=None) -> "Dataset":
        """Rebuild a FileDataset or TabularDataset. ``workspace`` resolves datastore names when
        the dataset reads files; without it only URL sources can be read.

        Raises UserErrorException for an unknown type or invalid sources.
        """
        from amlocal.datastores.resolve import check_sources
        if not isinstance(definition, dict):
            raise UserErrorException("a dataset definition is a dict made by dataset._to_definition()")
        kind = definition.get("type")
        if kind == "FileDataset":
            from ..data.file_dataset import FileDataset as cls
        elif kind == "TabularDataset":
            from ..data.tabular_dataset import TabularDataset as cls
        else:
            raise UserErrorException(
                f"unknown dataset type {kind!r}; expected FileDataset or TabularDataset")
        definition = copy.deepcopy(definition)
        definition["sources"] = check_sources(definition.get("sources"))
        return cls(definition, workspace)

    # -- consumption ------------------------------------------------------------------------
    def as_named_input(self, name: str):
        """A DatasetConsumptionConfig in direct mode; ``.as_mount()``/``.as_download()`` on it
        change the mode."""
        from ..data.dataset_consumption_config import DatasetConsumptionConfig
        return DatasetConsumptionConfig(name, self)

    # -- file access (host side) -----------------------------------------------------------
    def _resolve(self):
        from amlocal.datastores import resolve_sources
        return resolve_sources(self._definition["sources"], self._resolver())

    def _resolver(self):
        workspace = self._workspace

        def resolve(name: str):
            if workspace is None:
                raise UserErrorException(
                    f"this dataset reads datastore '{name}' but is not bound to a workspace; "
                    "rebuild it with Dataset._from_definition(definition, workspace=ws)")
            from .datastore import Datastore
            return Datastore._resolver(workspace)(name)
        return resolve

    def _validate(self) -> None:
        res = self._resolve()
        if not res.matches:
            raise UserErrorException(
                f"{_NO_DATA} No file matches {res.describe()}. Check the path and upload the data "
                "first (datastore.upload(...)), or pass validate=False to create the dataset anyway")

    # -- display ----------------------------------------------------------------------------
    def _source_strings(self) -> list[str]:
        from amlocal.datastores import redact_url
        return [f"('{s['datastore']}', '{s['path']}')" if "datastore" in s else redact_url(s["url"])
                for s in self._definition["sources"]]

    def __repr__(self) -> str:
        body = {"source": self._source_strings(), "id": self.id}
        return f"{type(self).__name__}\n{json.dumps(body, indent=2)}"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._definition == self._definition

    def __hash__(self) -> int:
        return hash(self.id)


# -- factories --------------------------------------------------------------------------------
class FileDatasetFactory:
    @staticmethod
    def from_files(path, validate: bool = True, partition_format: str | None = None,
                   is_file: bool = False):
        """A FileDataset of the files ``path`` names.

        ``path``: a ``(datastore, 'rel/**/*.csv')`` tuple (a leading ``/`` is allowed), a DataPath,
        a ``file://``/fsspec URL or an absolute local path, or a list of these. Globs are allowed;
        a folder means every file below it. With ``validate=True`` at least one file must match.

        Raises UserErrorException for an unsupported ``path``, a path leaving its datastore, or
        (``validate``) no matching file.
        """
        from ..data.file_dataset import FileDataset
        sources, workspace = _parse_paths(path)
        definition = _definition("FileDataset", sources, partition_format=partition_format,
                                 is_file=bool(is_file))
        dataset = FileDataset(definition, workspace)
        if validate:
            dataset._validate()
        return dataset


class TabularDatasetFactory:
    @staticmethod
    def from_delimited_files(path, validate: bool = True, include_path: bool = False,
                             infer_column_types: bool = True, set_column_types: dict | None = None,
                             separator: str = ",", header: bool = True,
                             partition_format: str | None = None, support_multi_line: bool = False,
                             empty_as_string: bool = False, encoding: str = "utf8"):
        """A TabularDataset read from delimited files (``path`` as in ``Dataset.File.from_files``).

        Deliberate differences from Azure: ``header`` is True/False only; ``set_column_types``
        maps columns to ``int``, ``float``, ``str``, ``bool``, ``"datetime"`` or a pandas dtype
        name; quoted multi-line values are always read (``support_multi_line`` is recorded only).
        """
        from ..data.tabular_dataset import TabularDataset, reader_types
        sources, workspace = _parse_paths(path)
        if not isinstance(header, bool):
            raise UserErrorException("header must be True (first line has column names) or False")
        reader = {"format": "delimited", "separator": separator, "header": header,
                  "encoding": encoding, "infer_column_types": bool(infer_column_types),
                  "set_column_types": reader_types(set_column_types),
                  "include_path": bool(include_path), "support_multi_line": bool(support_multi_line),
                  "empty_as_string": bool(empty_as_string)}
        dataset = TabularDataset(_definition("TabularDataset", sources, reader=reader,
                                             partition_format=partition_format, transforms=[]),
                                 workspace)
        if validate:
            dataset._validate()
        return dataset

    @staticmethod
    def from_parquet_files(path, validate: bool = True, include_path: bool = False,
                           set_column_types: dict | None = None, partition_format: str | None = None):
        """A TabularDataset read from Parquet files (needs pyarrow when it is read)."""
        from ..data.tabular_dataset import TabularDataset, reader_types
        sources, workspace = _parse_paths(path)
        reader = {"format": "parquet", "include_path": bool(include_path),
                  "set_column_types": reader_types(set_column_types)}
        dataset = TabularDataset(_definition("TabularDataset", sources, reader=reader,
                                             partition_format=partition_format, transforms=[]),
                                 workspace)
        if validate:
            dataset._validate()
        return dataset


Dataset.File = FileDatasetFactory
Dataset.Tabular = TabularDatasetFactory


def _definition(kind: str, sources: list[dict], **fields) -> dict:
    return {"schema_version": SCHEMA_VERSION, "type": kind, "sources": sources, **fields}


def _parse_paths(path) -> tuple[list[dict], object]:
    """Definition sources and the workspace of their datastores (None for URL-only paths)."""
    from amlocal.datastores import safe_relpath
    items = path if isinstance(path, list) else [path]
    if not items:
        raise UserErrorException("path is an empty list; give at least one (datastore, 'path')")
    sources, workspaces = [], {}
    for item in items:
        datastore, rel = _datastore_and_path(item)
        if datastore is not None:
            sources.append({"datastore": datastore.name, "path": safe_relpath(rel, "dataset path")})
            workspaces[datastore.workspace._id] = datastore.workspace
        else:
            sources.append({"url": _url(item)})
    if len(workspaces) > 1:
        raise UserErrorException("the paths of one dataset name datastores of different workspaces; "
                                 "use datastores of one workspace")
    return sources, next(iter(workspaces.values()), None)


def _datastore_and_path(item):
    from ..data.datapath import DataPath
    if isinstance(item, tuple):
        if len(item) == 2 and hasattr(item[0], "workspace") and hasattr(item[0], "_info") \
                and isinstance(item[1], (str, PurePath)):
            return item[0], str(item[1])
        raise UserErrorException(
            f"path tuple {item!r} is not valid: use (datastore, 'folder/**/*.csv') with a "
            "Datastore object")
    if isinstance(item, DataPath):
        return item._datastore, item.path_on_datastore or ""
    return None, None


def _url(item) -> str:
    if isinstance(item, PurePath):
        item = str(item)
    if not isinstance(item, str) or not item:
        raise UserErrorException(
            f"path {item!r} is not supported: use (datastore, 'folder/**/*.csv'), a DataPath, a "
            "URL such as 'file:///data/x.csv', an absolute local path, or a list of these")
    first = item.split("::", 1)[0]
    if "://" in first:
        return item
    if not Path(item).expanduser().is_absolute():
        raise UserErrorException(
            f"path {item!r} is relative; give (datastore, '{item}') for a path in a datastore, or "
            "an absolute local path / file:// URL")
    # Percent-encode like Path.as_uri(), but keep glob characters readable.
    return "file://" + quote(Path(item).expanduser().as_posix(), safe="/*?[]!:@")
