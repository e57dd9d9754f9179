"""The base class of FileDataset and TabularDataset (``azureml.data.abstract_dataset``), with the
``Dataset.File`` and ``Dataset.Tabular`` factories (``azureml.data.dataset_factory``).

The class is named ``Dataset``, as amlocal users know it: ``amlocal.core.dataset.Dataset`` (and
``amlocal.core.Dataset``) is this same class, and ``AbstractDataset`` is Azure's name for it.

A dataset is a *definition*, plain JSON naming datastores by NAME plus a relative path pattern
(or a URL), never the datastore's URL: a published pipeline freezes the definition and the runner
resolves the datastore when the step runs. ``dataset.id`` is the sha256 of the canonical JSON.

Registration (``dataset.register(ws, name, ...)``, ``Dataset.get_by_name``, ``get_by_id``,
``get_all``, ``ws.datasets``) keeps numbered versions of a definition in the workspace's store. A
registered dataset's ``_to_definition()`` carries ``{"registered": {"name", "version"}}``, so a
run records which dataset versions it read; the content id ignores that entry.

Inside a step, a dataset over datastores reads the copy the runner bound for one of the step's
inputs over the same sources (``run.input_datasets[name]``, and ``Dataset.get_by_name`` of that
dataset, read the same files); the step never resolves a datastore itself, so it never holds its
credentials. A dataset on a datastore that is not an input of the step raises, naming the fix
(pass it as an input). Deliberate difference: Azure's compute reads any dataset of the workspace.

A source that matches no file is an error when the dataset is validated and whenever it is read
(``to_pandas_dataframe``, ``download``), naming that source: never an empty result.

Deliberate differences from Azure: FileDataset and TabularDataset subclass this class, named
``Dataset`` (Azure: ``AbstractDataset``; Azure's ``azureml.core.dataset.Dataset`` is its
deprecated pre-2019 class, whose methods this one also has, from ``LegacyDatasetMethods``);
``id`` is the definition's content id, for registered datasets too (Azure gives them a GUID), so
``get_by_id`` returns the newest registration of a definition.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from ..errors import UserErrorException
from ._dataset_legacy import LegacyDatasetMethods

# The environment variable prefix of the definitions of a step's dataset inputs, as the step
# reads them (set by the runner; see amlocal.datastores.materialize).
_STEP_DEFINITION = "AMLOCAL_DATASET_DEFINITION_"


class Dataset(LegacyDatasetMethods):
    """Base class; build datasets with ``Dataset.File.from_files(...)`` or
    ``Dataset.Tabular.from_delimited_files(...)``. Azure's ``AbstractDataset``
    (``amlocal.data.abstract_dataset``); the deprecated methods of Azure's pre-2019 ``Dataset``
    come from :class:`._dataset_legacy.LegacyDatasetMethods`."""

    File: type      # FileDatasetFactory, set by amlocal.data.dataset_factory
    Tabular: type   # TabularDatasetFactory, set by amlocal.data.dataset_factory

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
        definition.pop("bound", None)   # a step's copy: where its files are bound in the step
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
        definition = {k: v for k, v in self._definition.items() if k != "bound"}
        missing = sorted({s["datastore"] for s in self._definition["sources"]
                          if "datastore" in s
                          and workspace._store.get_datastore(workspace._id, s["datastore"]) is None})
        if missing:
            raise UserErrorException(
                f"the dataset reads datastore(s) {', '.join(missing)}, which workspace "
                f"'{workspace.name}' does not have; register them there first "
                "(Datastore.register...), or register the dataset in their workspace")
        definition = copy.deepcopy(definition)
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

    # -- registration metadata --------------------------------------------------------------
    def update(self, description: str | None = None, tags: dict | None = None) -> "Dataset":
        """Replace the description and/or tags of this registered version (None keeps the
        current one; ``''`` / ``{}`` clear it); return the updated dataset, and update this
        object too. Deliberate difference: Azure *returns* an exception object for a dataset
        that is not registered; here it is raised."""
        workspace = self._registered_workspace("update")
        if description is not None and not isinstance(description, str):
            raise UserErrorException("description must be a string or None")
        new_tags = self._tags if tags is None else _check_tags(tags)
        return self._save_metadata(workspace, self._description if description is None
                                   else description, new_tags)

    def add_tags(self, tags: dict | None = None) -> "Dataset":
        """Add ``tags`` to this registered version. Raises UserErrorException, as Azure, when a
        key already has a different value (use ``update`` to change it)."""
        workspace = self._registered_workspace("add tags to")
        tags = _check_tags(tags)
        clash = sorted(k for k in tags if k in self._tags and self._tags[k] != tags[k])
        if clash:
            raise UserErrorException(
                f"Dataset already contains different values for tags with the following keys "
                f"{clash}")
        return self._save_metadata(workspace, self._description, {**self._tags, **tags})

    def remove_tags(self, tags=None) -> "Dataset":
        """Remove the tag keys ``tags`` (a list; unknown keys are ignored, as in Azure)."""
        workspace = self._registered_workspace("remove tags from")
        keys = [tags] if isinstance(tags, str) else list(tags or [])
        return self._save_metadata(workspace, self._description,
                                   {k: v for k, v in self._tags.items() if k not in keys})

    def unregister_all_versions(self) -> None:
        """Remove every registered version of this dataset's name from the workspace (the data
        itself is untouched); this object is no longer registered. Nothing happens for a
        dataset that is not registered, as in Azure."""
        if self._name is None or self._workspace is None:
            return
        self._workspace._store.unregister_datasets(self._workspace._id, self._name)
        self._name = self._version = self._registered_at = None

    @property
    def data_changed_time(self):
        """The most recent modification time (UTC, a ``datetime``) of the dataset's files, or
        None when their store does not tell."""
        from amlocal.datastores.transforms import file_metadata
        res = self._resolve()
        if not res.matches:
            return None
        latest = file_metadata(res, res.matches)["LastModifiedTime"].max()
        return None if latest != latest or latest is None else latest.to_pydatetime(warn=False)

    def _registered_workspace(self, what: str):
        if self._name is None or self._workspace is None:
            raise UserErrorException(
                f"To {what} this dataset it must be registered: "
                "dataset.register(ws, name) first")
        return self._workspace

    def _save_metadata(self, workspace, description, tags) -> "Dataset":
        info = workspace._store.update_dataset(workspace._id, self._name, self._version,
                                               description, dict(tags))
        self._description, self._tags = info.description, dict(info.tags or {})
        return Dataset._from_info(workspace, info)

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
        cls = _class_of(kind)
        if cls is None:
            raise UserErrorException(
                f"unknown dataset type {kind!r}; expected FileDataset or TabularDataset")
        definition = copy.deepcopy(definition)
        registered = definition.pop("registered", None)
        definition["sources"] = check_sources(definition.get("sources"))
        dataset = cls(definition, workspace)
        if isinstance(registered, dict) and registered.get("name"):
            dataset._name, dataset._version = registered["name"], registered.get("version")
        return dataset

    # -- partitions -------------------------------------------------------------------------
    @property
    def partition_keys(self) -> list[str]:
        """The columns the ``partition_format`` reads from the files' paths (string columns,
        then the datetime column), or ``[]``."""
        fmt = self._partition_format()
        return list(fmt.columns) if fmt is not None else []

    def get_partition_key_values(self, partition_keys: list[str] | None = None) -> list[dict]:
        """The unique combinations of ``partition_keys`` (default: all of them) over the
        dataset's files, in path order, e.g. ``[{'country': 'US', 'state': 'WA'}]``.

        Read from the paths alone (no file is opened). Raises UserErrorException for a key the
        partition format does not define.
        """
        keys = list(partition_keys) if partition_keys else self.partition_keys
        unknown = [k for k in keys if k not in self.partition_keys]
        if unknown:
            raise UserErrorException(
                f"{unknown} are invalid partition keys; this dataset's partition keys are "
                f"{self.partition_keys} (from partition_format "
                f"{self._definition.get('partition_format')!r})")
        fmt = self._partition_format()
        result: list[dict] = []
        if fmt is None:
            return result
        for match in self._resolve().matches:
            values = fmt.values(match.relpath)
            combination = {k: values[k] for k in keys}
            if combination not in result:
                result.append(combination)
        return result

    def _partition_format(self):
        from ._partition_format import parse
        text = self._definition.get("partition_format")
        return parse(text) if text else None

    # -- consumption ------------------------------------------------------------------------
    def as_named_input(self, name: str):
        """A DatasetConsumptionConfig in direct mode; ``.as_mount()``/``.as_download()`` on it
        change the mode."""
        from .dataset_consumption_config import DatasetConsumptionConfig
        return DatasetConsumptionConfig(name, self)

    # -- file access (host side) -----------------------------------------------------------
    def _resolve(self):
        """The files of the dataset. Inside a step, datastore sources resolve to the copy the
        runner bound for the step's input of this dataset (a step never reads a datastore
        itself, so it never holds its credentials); a dataset that is not an input of the step
        raises UserErrorException naming the fix."""
        from amlocal.datastores import resolve_sources
        from .. import _context
        bound = None
        if _context.job_context() is not None:   # host side, a "bound" entry means nothing
            bound = self._definition.get("bound") or self._bound_copy()
        return self._select(resolve_sources(self._definition["sources"], self._resolver(), bound),
                            bound)

    def _select(self, res, bound):
        """The files of ``res`` the dataset keeps (FileDataset applies its file selections)."""
        return res

    def _bound_copy(self) -> dict | None:
        """Inside a step: the ``bound`` entry of a step input over the same sources (the same
        dataset, or one made from it with ``take``/``skip`` ...), None when the dataset names no
        datastore. A dataset that is not one of the step's inputs (v1 scoring scripts read
        ``Dataset.get_by_name(...)`` in ``init()``) is copied into the step by the host, through
        the run service, once per process: the step never reads a datastore itself, so it never
        holds its credentials."""
        import os
        from amlocal.datastores.resolve import check_sources
        stores = sorted({s["datastore"] for s in self._definition["sources"] if "datastore" in s})
        if not stores:
            return None
        for key, text in sorted(os.environ.items()):
            if not key.startswith(_STEP_DEFINITION):
                continue
            try:
                other = json.loads(text)
                same = isinstance(other, dict) and bool(other.get("bound")) \
                    and check_sources(other.get("sources")) == self._definition["sources"]
                # a copy holding only the files selected for another dataset will not do
                if same and other["bound"].get("selected"):
                    same = other.get("transforms") == self._definition.get("transforms")
            except (ValueError, UserErrorException):
                continue
            if same:
                return other["bound"]
        return self._fetched_copy(stores)

    def _fetched_copy(self, stores: list[str]) -> dict:
        """The host's copy of this dataset's files in this process (see ``_bound_copy``)."""
        import hashlib
        import tempfile
        from .. import _context
        from .._files import write_once
        store = self._workspace._store if self._workspace is not None else None
        if store is None or not hasattr(store, "fetch_dataset"):
            what = f"'{self._name}'" if self._name else f"{self.id[:12]}"
            raise UserErrorException(
                f"dataset {what} reads datastore {', '.join(stores)}, which this process cannot "
                "reach; pass it to the step as an input, e.g. "
                f"inputs=[dataset.as_named_input('{_input_name(self._name)}')]")
        plain = {k: v for k, v in self._definition.items() if k != "bound"}
        job = _context.job_context()
        key = hashlib.sha256(json.dumps([job.run_id if job else "", plain["sources"]],
                                        sort_keys=True).encode()).hexdigest()

        def fill(staging: Path) -> None:
            bound = store.fetch_dataset(self._workspace._id, plain, staging / "files")
            (staging / "bound.json").write_text(json.dumps(
                {"folder": Path(bound["root"]).name, "sources": bound["sources"]}))

        # fetched once per step run, whoever asks for it
        copy_dir = write_once(Path(tempfile.gettempdir()) / "amlocal-datasets" / key[:32], fill)
        saved = json.loads((copy_dir / "bound.json").read_text())
        return {"root": str(copy_dir / "files" / saved["folder"]), "sources": saved["sources"]}

    def _resolver(self):
        workspace = self._workspace

        def resolve(name: str):
            if workspace is None:
                raise UserErrorException(
                    f"this dataset reads datastore '{name}' but is not bound to a workspace; "
                    "rebuild it with Dataset._from_definition(definition, workspace=ws)")
            from .abstract_datastore import Datastore
            return Datastore._resolver(workspace)(name)
        return resolve

    def _validate(self) -> None:
        """Raise UserErrorException naming each source that matches no file (Azure's
        ``validate=True`` check, made per source)."""
        self._resolve().require_files(
            "Check the path and upload the data first (datastore.upload(...)), or pass "
            "validate=False to create the dataset anyway")

    # -- display ----------------------------------------------------------------------------
    def _source_strings(self) -> list[str]:
        from amlocal.datastores import redact_url
        return [f"('{s['datastore']}', {s['query']!r})" if "query" in s   # a SQL query
                else f"('{s['datastore']}', '{s['path']}')" if "datastore" in s else redact_url(s["url"])
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


def _input_name(name) -> str:
    """A valid input name made from a dataset name (``'my-data'`` -> ``'my_data'``)."""
    import re
    text = re.sub(r"\W", "_", name or "data")
    return text if re.match(r"^[a-zA-Z_]", text) else f"_{text}"


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


def _class_of(kind) -> type | None:
    """The dataset class whose ``_TYPE`` is a definition's ``type`` (FileDataset,
    TabularDataset), None for another. The classes build on this module, so it names none of
    them: they are its subclasses, loaded with the package (``amlocal.data`` imports both)."""
    todo = list(Dataset.__subclasses__())
    while todo:
        cls = todo.pop(0)
        if cls.__dict__.get("_TYPE") == kind:
            return cls
        todo.extend(cls.__subclasses__())
    return None


AbstractDataset = Dataset

# ``Dataset.File`` and ``Dataset.Tabular`` are the factories of azureml.data.dataset_factory,
# which builds on the dataset classes and sets them on this class when it loads (with the
# package: ``amlocal.data`` imports it).

__all__ = ["AbstractDataset"]
