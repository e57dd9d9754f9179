"""Datastore URLs over fsspec: open a filesystem, check a protocol, and redact secrets.

fsspec is imported inside the functions that need it, never at module import, so this package can
be imported in a step container whose Python lacks fsspec.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from amlocal.errors import UserErrorException

LOCAL_PROTOCOLS = ("file", "local")
REDACTED = "***"
# Keys of storage options (and URL query parameters) whose values are never shown.
_SECRET_KEY = re.compile(
    r"key|secret|token|pass|pwd|sas|sig|credential|auth|connection|cert|session", re.IGNORECASE)


def protocol_of(url: str) -> str:
    """The fsspec protocol of a URL: ``"file"`` for ``file://`` URLs and plain local paths.

    For chained URLs (``simplecache::s3://...``) the outermost protocol is returned.
    """
    first = url.split("::", 1)[0]
    if "://" not in first:
        return "file"
    proto = first.split("://", 1)[0].lower()
    return "file" if proto in LOCAL_PROTOCOLS else proto


def local_path(url: str) -> str:
    """The host path of a ``file://`` URL or a plain local path (percent-escapes decoded)."""
    if url.startswith("file://"):
        return unquote(url[len("file://"):]) or "/"
    if url.startswith("local://"):
        return unquote(url[len("local://"):]) or "/"
    return str(Path(url).expanduser())


def normalise_url(url: str) -> str:
    """A datastore URL as stored: local paths (absolute or relative to the current folder)
    become ``file://`` URLs of the absolute path; other URLs are kept as given."""
    if not isinstance(url, (str, Path)) or not str(url):
        raise UserErrorException(
            "a datastore URL is needed, such as 'file:///data/lake' or 's3://bucket/prefix'")
    url = str(url)
    if protocol_of(url) == "file":
        return Path(local_path(url)).expanduser().resolve().as_uri()
    return url


def is_local(fs) -> bool:
    """Whether an fsspec filesystem is the local disk (so its files can be bind-mounted)."""
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return any(p in LOCAL_PROTOCOLS for p in protocols)


def install_hint(url: str) -> str | None:
    """None when fsspec can open ``url``'s protocol; else fsspec's own install hint
    (e.g. "Install adlfs to access Azure Datalake Gen2 and Azure Blob Storage").

    Raises UserErrorException when fsspec does not know the protocol at all.
    """
    proto = protocol_of(url)
    if proto == "file":
        return None
    registry = _fsspec_registry()
    try:
        registry.get_filesystem_class(proto)
    except ImportError as exc:
        return str(exc) or f"Install the fsspec implementation for '{proto}'"
    except ValueError as exc:
        known = sorted(set(registry.known_implementations) | set(registry.registry))
        raise UserErrorException(
            f"fsspec does not know the protocol '{proto}' of {redact_url(url)}. Known protocols: "
            f"{', '.join(known)}") from exc
    return None


def fs_for(url: str, storage_options: dict | None = None):
    """``(filesystem, root_path)`` for a datastore URL.

    Raises UserErrorException naming the package to install when the protocol's implementation
    is missing, or when the storage options are not accepted (only their keys are named).
    """
    options = dict(storage_options or {})
    if protocol_of(url) == "file":
        try:
            from fsspec.implementations.local import LocalFileSystem
        except ImportError as exc:
            raise UserErrorException("amlocal datastores need fsspec: pip install fsspec") from exc
        root = local_path(url)
        return LocalFileSystem(**options), (root.rstrip("/") or "/")
    hint = install_hint(url)
    if hint:
        raise UserErrorException(f"cannot open datastore URL {redact_url(url)}: {hint}")
    import fsspec.core
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except (TypeError, ValueError) as exc:
        raise UserErrorException(
            f"cannot open datastore URL {redact_url(url)} with storage options "
            f"{sorted(options)}: {type(exc).__name__}. Check the option names for the "
            f"'{protocol_of(url)}' filesystem in fsspec's documentation") from exc
    # fsspec reuses one instance per URL and options, with its listings cached: a file changed
    # by another process since the last call would stay invisible. Listings are made fresh here.
    fs.invalidate_cache()
    if root in ("", "/"):
        return fs, getattr(fs, "root_marker", "") or root   # memory:// paths start with "/"
    return fs, root.rstrip("/")


def redact_url(url: str) -> str:
    """``url`` with any password and secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _SECRET_KEY.search(k) else v) for k, v in pairs],
                          safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_options(options: dict | None):
    """A copy of storage options safe to show: secret-looking keys have ``***`` values, nested
    dicts are redacted too, and any value that is not plain data is hidden."""
    result = {}
    for key, value in (options or {}).items():
        if _SECRET_KEY.search(str(key)):
            result[key] = REDACTED
        elif isinstance(value, dict):
            result[key] = redact_options(value)
        elif value is None or isinstance(value, (bool, int, float)):
            result[key] = value
        elif isinstance(value, str):
            result[key] = redact_url(value) if "://" in value else value
        else:
            result[key] = REDACTED
    return result


def identity(url: str, options: dict) -> str:
    """What names the place a datastore URL points at, without its secrets: the URL (redacted)
    and the non-secret storage options, with a connection string reduced to its endpoint and
    account. Used in cache keys, so that two accounts with equal container names never share
    entries, while rotating a key keeps them."""
    shown = redact_options(options)
    conn = options.get("connection_string")
    if isinstance(conn, str):
        parsed = parse_connection_string(conn)
        shown["connection_string"] = {k: v for k, v in parsed.items()
                                      if k in ("blobendpoint", "accountname", "endpointsuffix",
                                               "defaultendpointsprotocol")}
    return json.dumps([redact_url(url), shown], sort_keys=True, default=str)


def parse_connection_string(text: str) -> dict:
    """``"A=1;B=x"`` -> ``{"a": "1", "b": "x"}`` (Azure storage connection strings; keys
    lower-cased)."""
    result = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            result[key.strip().lower()] = value.strip()
    return result


def _fsspec_registry():
    import importlib
    try:  # the module: ``fsspec.registry`` the attribute is the registry's mapping
        return importlib.import_module("fsspec.registry")
    except ImportError as exc:
        raise UserErrorException("amlocal datastores need fsspec: pip install fsspec") from exc
