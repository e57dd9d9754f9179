"""FileDataset (``azureml.data.file_dataset``): a set of files in datastores or at URLs.

Deliberate differences from Azure: ``mount()`` on this machine is a folder of symbolic links,
not FUSE (see ``amlocal.datastores.mount``). ``as_mount()`` bind-mounts the files read-only into
a step: in place on ``file://`` datastores; on remote ones (Azure Blob, S3 ...) from a local cache
under ``AMLOCAL_HOME/cache/datasets`` that fetches each remote file once per version (no FUSE;
see ``amlocal.datastores.cache``). In direct mode (``as_named_input(name)``) the files are bound
the same way and ``run.input_datasets[name]`` reads them.

``take``, ``skip``, ``take_sample``, ``random_split`` and ``filter`` select files; the selection
is part of the definition (its ``"transforms"``, see ``amlocal.data._transforms``), so a step
given the dataset sees the same files: in mount and download modes only the selected files are
bound; in direct mode the step applies the selection itself to what it is given.
"""
from __future__ import annotations

import copy
import tempfile

from .._cloud_only import cloud_only_function
from .abstract_dataset import Dataset
from ..errors import UserErrorException

# Azure's mount checks error messages for this text (a file name too long for the mount).
FILENAME_LENGTH_ERROR_MESSAGE = "exceeds the maximum allowed length"


class FileDataset(Dataset):
    """Create with ``Dataset.File.from_files(path, validate=True, partition_format=None,
    is_file=False)``."""

    _TYPE = "FileDataset"     # the definition's "type" (Dataset._from_definition picks this class)

    def to_path(self) -> list[str]:
        """The files' paths relative to the dataset's base folder, each starting with ``/``
        (``['/input.csv']`` for a single-file dataset). Sorted."""
        return [m.portable for m in self._resolve().matches]

    def download(self, target_path: str | None = None, overwrite: bool = False,
                 ignore_not_found: bool = False) -> list[str]:
        """Copy the files to ``target_path`` (default: a new temporary folder), keeping the
        structure ``to_path()`` shows; return their absolute local paths.

        Raises UserErrorException when a target file exists and ``overwrite`` is False (nothing
        is copied then), or, unless ``ignore_not_found``, when a source matches no file (the
        error names it).
        """
        from amlocal.datastores import copy_matches
        res = self._resolve()
        if not ignore_not_found:
            res.require_files("Check the path and that the data was uploaded, or pass "
                              "ignore_not_found=True to download what exists")
        target = target_path if target_path is not None else tempfile.mkdtemp(prefix="amlocal-dataset-")
        return [str(p) for p in copy_matches(res, target, overwrite, ignore_not_found)]

    def as_mount(self, path_on_compute: str | None = None):
        """A DatasetConsumptionConfig that bind-mounts the files read-only into the step at
        ``path_on_compute`` (default ``/amlocal/inputs/<name>``); remote files come from the
        local dataset cache, fetched before the step starts when they changed."""
        return self.as_named_input(None).as_mount(path_on_compute)

    def as_download(self, path_on_compute: str | None = None):
        """A DatasetConsumptionConfig that copies the files for the step before it starts."""
        return self.as_named_input(None).as_download(path_on_compute)

    def mount(self, mount_point: str | None = None, **kwargs):
        """A MountContext showing the files at ``mount_point`` (default: a new temporary
        folder, ``context.mount_point``): ``with ds.mount() as context: ...`` or
        ``context.start()`` / ``context.stop()``. The mount point must be empty. See
        ``amlocal.datastores.mount`` for how this differs from Azure's FUSE mount;
        ``mount_options`` and ``skip_validate`` are accepted and ignored, as Azure ignores the
        latter."""
        from amlocal.datastores.mount import MountContext
        unknown = set(kwargs) - {"mount_options", "skip_validate", "client_id",
                                 "identity_endpoint_type"}
        if unknown:
            raise UserErrorException(f"unexpected arguments {sorted(unknown)}")
        return MountContext(self._resolve, mount_point)

    # -- selections -------------------------------------------------------------------------
    def take(self, count: int) -> "FileDataset":
        """A new FileDataset of the first ``count`` files (in ``to_path()`` order)."""
        from ._transforms import count as _count
        return self._with_transform({"take": _count(count, "take")})

    def skip(self, count: int) -> "FileDataset":
        """A new FileDataset without the first ``count`` files."""
        from ._transforms import count as _count
        return self._with_transform({"skip": _count(count, "skip")})

    def take_sample(self, probability: float, seed: int | None = None) -> "FileDataset":
        """A new FileDataset keeping each file with ``probability`` (seeded)."""
        from ._transforms import check_probability, check_seed
        return self._with_transform({"take_sample": {
            "probability": check_probability(probability, "probability"),
            "seed": check_seed(seed)}})

    def random_split(self, percentage: float, seed: int | None = None) -> tuple:
        """Two new FileDatasets: about ``percentage`` of the files, and the others."""
        from ._transforms import check_probability, check_seed
        spec = {"percentage": check_probability(percentage, "percentage"),
                "seed": check_seed(seed)}
        return (self._with_transform({"random_split": {**spec, "part": 0}}),
                self._with_transform({"random_split": {**spec, "part": 1}}))

    def file_metadata(self, col: str):
        """The expression of a file property for :meth:`filter`: ``Size`` (bytes),
        ``LastModifiedTime`` and ``CreationTime`` (UTC, when the store gives them),
        ``Extension`` (without the dot) or ``CanSeek``."""
        from ._expressions import column
        from ._transforms import FILE_METADATA
        if col not in FILE_METADATA:
            raise UserErrorException(
                f"{col!r} is not a file metadata column; use one of {', '.join(FILE_METADATA)}")
        return column(col)

    def filter(self, expression) -> "FileDataset":
        """A new FileDataset of the files where ``expression`` holds, e.g.
        ``ds.filter(ds.file_metadata('Size') > 1000)``. Reading the selection needs pandas."""
        from ._expressions import columns_of, expression_node
        from ._transforms import FILE_METADATA
        node = expression_node(expression)
        unknown = sorted(columns_of(node) - set(FILE_METADATA))
        if unknown:
            raise UserErrorException(
                f"a FileDataset filter reads file metadata only ({', '.join(FILE_METADATA)}, "
                f"through ds.file_metadata(name)), not {unknown}")
        return self._with_transform({"filter": node})

    def _with_transform(self, step: dict) -> "FileDataset":
        definition = copy.deepcopy(self._definition)
        definition.pop("bound", None)
        definition.setdefault("transforms", []).append(step)
        return FileDataset(definition, self._workspace)

    def _select(self, res, bound):
        """The files the definition's transforms keep; none are applied again to a bound copy
        the host already selected."""
        from ._transforms import select_files
        if bound and bound.get("selected"):
            return res
        return select_files(res, self._definition.get("transforms") or [])


_CACHE = "data caches (DatacacheStore) are Azure ML's managed replicas of a dataset"
_CACHE_ALT = ("consume the dataset with as_mount(): remote files go through amlocal's local "
              "content-addressed cache, fetched once per version")
FileDataset.as_cache = cloud_only_function(
    "azureml.data.file_dataset.FileDataset", "as_cache", _CACHE, _CACHE_ALT)
FileDataset.hydrate = cloud_only_function(
    "azureml.data.file_dataset.FileDataset", "hydrate", _CACHE, _CACHE_ALT)
FileDataset.as_hdfs = cloud_only_function(
    "azureml.data.file_dataset.FileDataset", "as_hdfs",
    "HDFS inputs exist on Azure Synapse Spark pools", "as_mount() or as_download()")
