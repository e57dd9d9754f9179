"""Dataset: the base of FileDataset and TabularDataset, with the ``Dataset.File`` and
``Dataset.Tabular`` factories (``azureml.core.dataset`` and ``azureml.data.dataset_factory``).

A dataset is a *definition*, plain JSON naming datastores by NAME plus a relative path pattern
(or a URL), never the datastore's URL: a published pipeline freezes the definition and the runner
resolves the datastore when the step runs. ``dataset.id`` is the sha256 of the canonical JSON.

Registration (``dataset.register(ws, name, ...)``, ``Dataset.get_by_name``, ``get_by_id``,
``get_all``, ``ws.datasets``) keeps numbered versions of a definition in the workspace's store. A
registered dataset's ``_to_definition()`` carries ``{"registered": {"name", "version"}}``, so a
run records which dataset versions it read; the content id ignores that entry.

Deliberate differences from Azure: FileDataset and TabularDataset subclass this ``Dataset``
(Azure: ``AbstractDataset``); ``id`` is the definition's content id, for registered datasets
too (Azure gives them a GUID), so ``get_by_id`` returns the newest registration of a definition.
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
        self._description = None
        self._tags: dict = {}
        self._registered_at = None

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """sha256 of the definition's canonical JSON: equal definitions, equal ids."""
        from amlocal.datastores.paths import definition_id
        return definition_id(self._definition)

    @property
    def name(self) -> str | None:
        """The registered name; None for a dataset that is not registered."""
        return self._name

    @property
    def version(self) -> int | None:
        """The registered version (1, 2, 3 ... per name); None when not registered."""
        return self._version

    @property
    def description(self) -> str | None:
        return self._description

    @property
    def tags(self) -> dict:
        return dict(self._tags)

    def _to_definition(self) -> dict:
        """The definition as plain JSON data (a copy); a registered dataset's also names its
        registration: ``{"registered": {"name": ..., "version": ...}}``."""
        definition = copy.deepcopy(self._definition)
        if self._name is not None:
            definition["registered"] = {"name": self._name, "version": self._version}
        return definition

    # -- registration -----------------------------------------------------------------------
    def register(self, workspace, name: str, description: str | None = None,
                 tags: dict | None = None, create_new_version: bool = False) -> "Dataset":
        """Register the dataset in ``workspace`` as ``name``; return it with ``name`` and
        ``version`` set. An identical definition returns the existing version.

        Raises UserErrorException for an invalid name or tags, a datastore the workspace does
        not have, or (as Azure's HTTP 409) a different definition already registered under
        ``name`` without ``create_new_version=True``.
        """
        from amlocal.datastores.paths import definition_id
        from ..store.entities import DatasetInfo
        _check_dataset_name(name)
        if description is not None and not isinstance(description, str):
            raise UserErrorException("description must be a string or None")
        tags = _check_tags(tags)
        missing = sorted({s["datastore"] for s in self._definition["sources"]
                          if "datastore" in s
                          and workspace._store.get_datastore(workspace._id, s["datastore"]) is None})
        if missing:
            raise UserErrorException(
                f"the dataset reads datastore(s) {', '.join(missing)}, which workspace "
                f"'{workspace.name}' does not have; register them there first "
                "(Datastore.register...), or register the dataset in their workspace")
        definition = copy.deepcopy(self._definition)
        info = workspace._store.register_dataset(
            DatasetInfo(workspace_id=workspace._id, name=name, version=0,
                        id=definition_id(definition), definition=definition,
                        description=description, tags=tags),
            create_new_version=bool(create_new_version))
        return Dataset._from_info(workspace, info)

    @staticmethod
    def get_by_name(workspace, name: str, version="latest") -> "Dataset":
        """The registered dataset ``name`` at ``version`` (``'latest'`` or a number).

        Raises NotFoundError listing the registered names (or versions), UserErrorException for
        a version that is not a number.
        """
        from ..errors import NotFoundError
        number = _version_number(version)
        info = workspace._store.get_dataset(workspace._id, name, number)
        if info is None:
            shown = "latest" if number is None else number
            known = sorted({d.name for d in workspace._store.list_datasets(workspace._id)})
            if name in known:
                versions = [str(d.version) for d in workspace._store.list_datasets(workspace._id)
                            if d.name == name]
                hint = f"Versions of '{name}': {', '.join(sorted(versions, key=int))}"
            else:
                hint = (f"Registered datasets: {', '.join(known) or '(none)'}; register one with "
                        f"dataset.register(ws, '{name}')")
            raise NotFoundError(
                f'Cannot find dataset registered with name "{name}" (version: {shown}) in the '
                f"workspace '{workspace.name}'. {hint}")
        return Dataset._from_info(workspace, info)

    @staticmethod
    def get_by_id(workspace, id: str) -> "Dataset":
        """The registered dataset with this id (the newest registration of that definition).
        Raises NotFoundError."""
        from ..errors import NotFoundError
        info = workspace._store.get_dataset_by_id(workspace._id, id)
        if info is None:
            raise NotFoundError(
                f"Cannot find a dataset with id '{id}' registered in workspace "
                f"'{workspace.name}'; list them with Dataset.get_all(ws) or `amlocal dataset list`")
        return Dataset._from_info(workspace, info)

    @staticmethod
    def get_all(workspace) -> dict:
        """``{name: latest version}`` of every registered dataset."""
        latest: dict = {}
        for info in workspace._store.list_datasets(workspace._id):
            if info.name not in latest or info.version > latest[info.name].version:
                latest[info.name] = info
        return {name: Dataset._from_info(workspace, info) for name, info in sorted(latest.items())}

    @staticmethod
    def _from_info(workspace, info) -> "Dataset":
        dataset = Dataset._from_definition(info.definition, workspace)
        dataset._name, dataset._version = info.name, info.version
        dataset._description, dataset._tags = info.description, dict(info.tags or {})
        dataset._registered_at = info.created_at
        return dataset

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
        registered = definition.pop("registered", None)
        definition["sources"] = check_sources(definition.get("sources"))
        dataset = cls(definition, workspace)
        if isinstance(registered, dict) and registered.get("name"):
            dataset._name, dataset._version = registered["name"], registered.get("version")
        return dataset

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
        body: dict = {"source": self._source_strings(), "id": self.id}
        if self._name is not None:
            body["registration"] = {"name": self._name, "version": self._version,
                                    "description": self._description, "tags": self._tags}
        return f"{type(self).__name__}\n{json.dumps(body, indent=2)}"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._definition == self._definition

    def __hash__(self) -> int:
        return hash(self.id)


def _check_dataset_name(name) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > 250 \
            or "/" in name:
        raise UserErrorException(
            f"dataset name {name!r} is not valid: give 1-250 characters without '/' and without "
            "leading or trailing spaces, e.g. 'training_data'")


def _check_tags(tags) -> dict:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise UserErrorException("tags must be a dict such as {'source': 'sales'}")
    try:
        json.dumps(tags)
    except (TypeError, ValueError):
        raise UserErrorException(
            f"tags must be plain JSON data (str, numbers, bools); check {sorted(tags)}") from None
    return dict(tags)


def _version_number(version) -> int | None:
    if version is None or (isinstance(version, str) and version.strip().lower() == "latest"):
        return None
    if isinstance(version, bool):
        version = "bad"
    try:
        number = int(version)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise UserErrorException(
            f"version {version!r} is not valid: give 'latest' or a version number (1, 2, ...)")
    return number


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
