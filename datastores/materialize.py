"""Making a dataset input available to a step, on the host, before its container starts.

:func:`bind_input` turns a dataset definition and a consumption mode into an :class:`InputBinding`:
the value that replaces the ``DatasetConsumptionConfig:<name>`` placeholder in argv, read-only
bind mounts and environment variables (Azure's job runtime contract, reference section 4).

- **mount** on local (``file://``) datastores: read-only bind mounts of exactly what the dataset
  names, no copy. A source naming a whole folder (``folder``, ``folder/**``) binds the folder;
  other matches bind file by file at ``<location>/<portable path>``.
- **mount** on remote datastores (Azure Blob, S3 ...): deliberate difference from Azure, there is
  no FUSE mount; the files go through the content-addressed cache of :mod:`.cache` (fetched once
  per remote object version, reused by every later run while the object is unchanged) and the
  cache's folder for the dataset is bind-mounted read-only. Files whose store gives no etag or
  modification time are copied as in download mode.
- **download** (any protocol): the files are copied to ``staging_dir/<name>/`` and that folder is
  bind-mounted read-only (remote files are copied from the cache, filling it first).
- **direct**: the value is the dataset id. The files of the dataset's datastore and ``file://``
  sources are bound exactly as in mount mode (read-only binds, or the remote cache), and the
  step gets the definition it reads (``AMLOCAL_DATASET_DEFINITION_<name>``, see
  :attr:`InputBinding.step_definition`) with a ``"bound"`` entry pointing those sources at the
  bound copy (:mod:`.resolve`), so ``run.input_datasets[name]`` reads the same files with the same
  reader settings and never needs a datastore's URL or credentials. Remote URL sources
  (``https://``, ``s3://`` ...) are read by the step itself (:mod:`.requirements` names the
  packages that needs). A direct input whose sources match nothing is not an error here (Azure
  raises only when the step reads it); reading it raises, naming the source.

A FileDataset's file selections (``take``, ``skip``, ``take_sample``, ``random_split``,
``filter``: its definition's ``"transforms"``) are applied here in mount and download modes: only
the selected files are bound, file by file, and the step's definition says so (``"selected"`` in
its ``"bound"`` entry) so the step does not select again. In direct mode the step applies them
to what it is given.

The location is ``path_on_compute`` when given (a relative one is below the working directory,
as in Azure), else ``/amlocal/inputs/<name>``. A single-file dataset's value is the file's path.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from amlocal._mount import CONTAINER_ROOT, WORKDIR, Mount
from amlocal.errors import UserErrorException

from .fs import is_local
from .paths import definition_id, relative_to, safe_relpath
from .resolve import Resolution, content_digest, resolve_sources
from .transfer import copy_matches, remove_tree

MODES = ("mount", "download", "direct")
ENV_DATASETS = "AZUREML_DATASET_ENVIRONMENT_VARS"
# The definition the step reads for input <name> (every mode): run.input_datasets rebuilds direct
# inputs from it, and Dataset.get_by_name in the step finds the bound copy through it.
STEP_DEFINITION = "AMLOCAL_DATASET_DEFINITION_"
_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class InputBinding:
    name: str
    mode: str
    value: str                       # replaces the argv placeholder; the env var's value
    mounts: tuple[Mount, ...] = ()
    env: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)   # portable paths ("/a/b.csv"), sorted
    content_digest: str = ""         # sha256 over (source key, size, version stamp) of every file
    dataset_id: str = ""
    registered: dict | None = None   # {"name": ..., "version": ...} of a registered dataset
    fetched: int = 0                 # files downloaded from a remote store for this binding
    step_definition: str = ""        # the definition the step reads, with its "bound" entry (JSON)


def bind_input(definition: dict, name: str, mode: str, path_on_compute: str | None,
               resolve_datastore: Callable[[str], tuple[str, dict]],
               staging_dir: Path, *, cache_dir: Path | None = None,
               show_progress: bool = False,
               select_files: Callable | None = None) -> InputBinding:
    """Bind one dataset input of a step.

    ``resolve_datastore(datastore_name) -> (url, storage_options)``; ``staging_dir`` receives
    download-mode copies (``staging_dir/<name>`` is replaced on every call); ``cache_dir`` is the
    remote-file cache (default ``AMLOCAL_HOME/cache/datasets``); ``show_progress`` prints
    download progress on stderr. ``select_files(resolution, transforms) -> resolution`` applies
    a FileDataset's selections (``take``, ``filter`` ...) so that mount and download bind only
    the selected files; the dataset layer above passes it (this layer knows no transformations).

    Raises UserErrorException for an invalid name or mode, a TabularDataset in mount or download
    mode, paths leaving a datastore, and (mount/download) a source matching no file.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(
            f"input name {name!r} is not valid: it must match ^[a-zA-Z_]+[a-zA-Z0-9_]*$ "
            "(it becomes an environment variable)")
    mode = (mode or "").lower()
    if mode not in MODES:
        raise UserErrorException(
            f"input '{name}': mode {mode!r} is not supported locally; use one of "
            f"{', '.join(MODES)}")
    kind = definition.get("type", "FileDataset")
    if kind != "FileDataset" and mode != "direct":
        raise UserErrorException(
            f"input '{name}': {kind} does not support {mode}. Only FileDataset supports {mode}")
    dataset_id = definition_id(definition)
    res = resolve_sources(definition.get("sources", []), resolve_datastore)
    # A FileDataset's file selections (take, filter ...): mount and download bind only the
    # selected files; in direct mode the step selects from what it is given.
    selected = kind == "FileDataset" and mode != "direct" and bool(definition.get("transforms"))
    if selected:
        if select_files is None:
            raise UserErrorException(
                f"input '{name}': the dataset selects files (take, skip, filter ...), which "
                "bind_input applies only with select_files=...")
        res = select_files(res, definition["transforms"])
    if mode != "direct":
        try:
            res.require_files("Check the path (and that the step producing it ran), or upload "
                              "the data first")
        except UserErrorException as exc:
            raise UserErrorException(f"input '{name}': {exc}") from None
    files = [m.portable for m in res.matches]
    digest = content_digest(res.matches)

    fetched = 0
    step_definition = ""
    # direct mode has no path on compute (Azure ignores it): the files go to the default place
    location = _location(name, None if mode == "direct" else path_on_compute)
    if mode == "direct":
        value = dataset_id
        bindable = [i for i, s in enumerate(definition.get("sources", []))
                    if "datastore" in s or is_local(res.sources[i].fs)]
        part = Resolution(res.sources, [m for m in res.matches if m.source in bindable])
        mounts, fetched = (_mounts(part, bindable, name, "mount", location, staging_dir,
                                   cache_dir, show_progress) if part.matches else ((), 0))
        step_definition = json.dumps(_step_definition(definition, res, bindable, location))
    else:
        mounts, fetched = _mounts(res, range(len(res.sources)), name, mode, location,
                                  staging_dir, cache_dir, show_progress)
        step = _step_definition(definition, res, range(len(res.sources)), location)
        if selected:
            step["bound"]["selected"] = True
        step_definition = json.dumps(step)
        value = location
        if res.single_file:
            value = f"{location.rstrip('/')}{res.matches[0].portable}"
    env = {name: value, name.upper(): value, f"AZUREML_DATAREFERENCE_{name}": value,
           f"AZURE_ML_INPUT_{name}": value, f"{STEP_DEFINITION}{name}": step_definition}
    registered = definition.get("registered")
    return InputBinding(name, mode, value, tuple(mounts), env, files, digest, dataset_id,
                        dict(registered) if isinstance(registered, dict) else None, fetched,
                        step_definition)


def env_for_inputs(bindings) -> dict:
    """Every binding's variables plus ``AZUREML_DATASET_ENVIRONMENT_VARS="n1:mount,n2:direct"``,
    from which ``run.input_datasets`` is rebuilt inside the job. Raises UserErrorException for
    two inputs with the same name."""
    env: dict = {}
    names: list[str] = []
    for b in bindings:
        if b.name in names:
            raise UserErrorException(
                f"two inputs of the step are named '{b.name}'; give each a distinct name with "
                "as_named_input(name)")
        names.append(b.name)
        env.update(b.env)
    env[ENV_DATASETS] = ",".join(f"{b.name}:{b.mode}" for b in bindings)
    return env


# -- internals --------------------------------------------------------------------------------
def _mounts(res: Resolution, indexes, name: str, mode: str, location: str, staging_dir: Path,
            cache_dir: Path | None, show_progress: bool) -> tuple[tuple[Mount, ...], int]:
    """The read-only mounts that show the matches of ``res`` (of the sources at ``indexes``) at
    their portable paths under ``location``, and how many files were fetched into the cache."""
    from .cache import cacheable, cached_tree
    local = all(is_local(res.sources[i].fs) for i in indexes)
    if mode == "mount" and local:
        return _bind_mounts(res, location, set(indexes)), 0
    if mode == "mount" and cacheable(res):
        tree = cached_tree(res, cache_dir, show_progress)
        return (Mount(str(tree.path.resolve()), location, True),), tree.fetched
    folder = Path(staging_dir) / name
    remove_tree(folder)
    folder.mkdir(parents=True)
    fetched = 0
    if not local and cacheable(res):
        tree = cached_tree(res, cache_dir, show_progress)
        fetched = tree.fetched
        shutil.copytree(tree.path, folder, dirs_exist_ok=True)
    else:
        copy_matches(res, folder, overwrite=True, show_progress=show_progress)
    return (Mount(str(folder.resolve()), location, True),), fetched


def _step_definition(definition: dict, res: Resolution, bindable, location: str) -> dict:
    """``definition`` with a ``"bound"`` entry: for each bound source, the base its files' keys
    are relative to (a datastore-relative folder, or a ``file://`` URL's host folder) and its
    pattern relative to that base; None for sources the step reads itself."""
    entries = []
    for index, src in enumerate(res.sources):
        if index not in bindable:
            entries.append(None)
            continue
        base = relative_to(src.base, src.root) if src.root is not None else src.base
        entries.append({"base": base, "pattern": relative_to(src.pattern, src.base)})
    plain = {k: v for k, v in definition.items() if k != "bound"}
    return {**plain, "bound": {"root": location, "sources": entries}}


def _location(name: str, path_on_compute: str | None) -> str:
    if not path_on_compute:
        return f"{CONTAINER_ROOT}/inputs/{name}"
    text = str(path_on_compute).replace("\\", "/")
    rel = safe_relpath(text, "path_on_compute")
    if not rel:
        raise UserErrorException(
            f"path_on_compute {path_on_compute!r} would hide the container's root; give a "
            f"folder such as '{CONTAINER_ROOT}/inputs/{name}'")
    return f"/{rel}" if text.startswith("/") else f"{WORKDIR}/{rel}"


def _bind_mounts(res: Resolution, location: str, indexes: set | None = None) -> tuple[Mount, ...]:
    """Read-only binds of whole folders where a source (of those at ``indexes``, default all)
    names one, else of single files; never a bind inside another (Docker cannot create a mount
    point in a read-only bind)."""
    loc = location.rstrip("/")
    folders: dict[str, str] = {}   # container target -> host folder
    for index, src in enumerate(res.sources):
        if src.folder is not None and (indexes is None or index in indexes):
            target = _target(loc, relative_to(src.folder, src.base))
            folders.setdefault(target, src.folder)
    kept: dict[str, str] = {}
    for target in sorted(folders, key=lambda t: (t.count("/"), t)):
        if not any(_inside(target, outer) for outer in kept):
            kept[target] = folders[target]
    mounts = [Mount(host, target, True) for target, host in sorted(kept.items())]
    for m in res.matches:
        target = _target(loc, m.portable.lstrip("/"))
        if not any(_inside(target, outer) for outer in kept):
            mounts.append(Mount(m.path, target, True))
    return tuple(mounts)


def _target(location: str, rel: str) -> str:
    return str(PurePosixPath(location) / rel) if rel else location


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
