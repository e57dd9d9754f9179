"""Which files layer the settings name (kept apart from both layers, which it imports)."""
from __future__ import annotations

from .files import LocalFiles, StoreFiles


def open_files(settings) -> StoreFiles:
    """:class:`~amlocal.store.files.LocalFiles` when ``AMLOCAL_ARTIFACTS_URL`` is unset or a
    ``file://`` folder (exactly the home's code path), else
    :class:`~amlocal.store.files_fsspec.FsspecFiles` on that URL (fsspec imported only then)."""
    if not settings.artifacts_remote:
        return LocalFiles(settings.artifacts, settings.models)
    from .files_fsspec import FsspecFiles
    return FsspecFiles.from_settings(settings)
