"""FileDataset (``azureml.data.file_dataset``): a set of files in datastores or at URLs.

Deliberate differences from Azure: ``mount()`` (a FUSE mount on the local machine) is not
offered; use ``download()`` here, and ``as_mount()`` for steps. ``as_mount()`` bind-mounts the
files read-only: in place on ``file://`` datastores; on remote ones (Azure Blob, S3 ...) from a
local cache under ``AMLOCAL_HOME/cache/datasets`` that fetches each remote file once per version
(no FUSE; see ``amlocal.datastores.cache``). In direct mode (``as_named_input(name)``) the files
are bound the same way and ``run.input_datasets[name]`` reads them.
"""
from __future__ import annotations

import tempfile

from ..core.dataset import Dataset

# Azure's mount checks error messages for this text (a file name too long for the mount).
FILENAME_LENGTH_ERROR_MESSAGE = "exceeds the maximum allowed length"


class FileDataset(Dataset):
    """Create with ``Dataset.File.from_files(path, validate=True, partition_format=None,
    is_file=False)``."""

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
