"""How bytes move: datastores as URLs over fsspec, and datasets made available to steps.

- :mod:`.fs` opens a datastore URL (``fs_for``), checks protocols, redacts secrets;
- :mod:`.azure` turns Azure Blob containers into URLs and adlfs options and checks them;
- :mod:`.transfer` uploads and downloads (``upload_dir``, ``upload_files``, ``download_prefix``,
  ``upload_output``), with :mod:`.progress` on stderr;
- :mod:`.resolve` expands a dataset's sources into files (``expand``, ``resolve_sources``);
- :mod:`.cache` keeps remote files in a local content-addressed cache (``local_cache_of``);
- :mod:`.materialize` binds a dataset input of a step (``bind_input``, ``env_for_inputs``);
- :mod:`.sql` reads and writes SQL datastores through SQLAlchemy on the host (``read_query``,
  ``write_table``; types in :mod:`.sql_types`, Azure's arguments in :mod:`.sql_azure`), and
  :mod:`.sql_input` binds a query's rows as a Parquet step input.

This package describes nothing (the SDK's ``Datastore`` and ``Dataset`` do) and imports fsspec
only inside the functions that need it, so importing it has no cost in a step container.
"""
from __future__ import annotations

from .cache import local_cache_of
from .fs import fs_for, install_hint, normalise_url, protocol_of, redact_options, redact_url
from .paths import definition_id, safe_relpath
from .resolve import content_digest, expand, resolve_sources
from .transfer import (TransferResult, copy_matches, download_prefix, upload_dir, upload_files,
                       upload_output)

__all__ = ["TransferResult", "content_digest", "copy_matches", "definition_id", "download_prefix",
           "expand", "fs_for", "install_hint", "local_cache_of", "normalise_url", "protocol_of",
           "redact_options", "redact_url", "resolve_sources", "safe_relpath", "upload_dir",
           "upload_files", "upload_output"]
