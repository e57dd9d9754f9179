"""From a dataset's sources (datastore name + path pattern, or a URL) to the files they name.

A *source* is the plain dict a dataset definition holds: ``{"datastore": NAME, "path": PATTERN}``
or ``{"url": URL}`` (``{"datastore": NAME, "query": SQL}``, a SQL datastore's query, is kept
by ``check_sources`` and has no files: see :mod:`.sql`). Every matched file gets a *portable path*: its path relative to the
dataset's base folder (the common fixed prefix of the sources' patterns), starting with ``/``.
``FileDataset.to_path()`` lists those, downloads and mounts reproduce them.

Inside a step a definition may carry ``"bound": {"root": FOLDER, "sources": [...]}`` (written by
:func:`.materialize.bind_input`): the host has bound source ``i``'s files at their portable paths
under ``FOLDER`` and ``sources[i]`` is ``{"base": ..., "pattern": ...}`` (the source's base folder
as it appears in file keys, and its pattern relative to that base), or None for a source the step
reads itself (a remote URL). Such sources resolve to the bound copy with the keys, portable paths
and partition paths the host would give them, and no datastore is looked up.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from amlocal.errors import UserErrorException

from .fs import fs_for, identity, is_local, redact_url
from .paths import common_folder, fixed_prefix, has_magic, join, parent, relative_to, safe_relpath

Resolver = Callable[[str], "tuple[str, dict]"]
# Remainders of a glob that name every file below its fixed prefix (folders expand recursively).
_WHOLE_FOLDER = ("*", "**", "**/*")


@dataclass(frozen=True)
class Match:
    """One matched file."""

    source: int        # index of the source that matched it
    path: str          # path in the source's filesystem (a host path for local datastores)
    key: str           # "<datastore>:<path relative to its root>" or the URL's path, for digests
    portable: str      # "/a/b.csv": path relative to the dataset's base folder
    size: int | None = None
    mtime: str = ""    # version stamp: st_mtime_ns for local files; a remote object's etag
                       # (else its modification time); "" when the filesystem gives neither
    relpath: str = ""  # the path partition formats are matched against: relative to the
                       # datastore's root (a URL source: the path of the URL)


@dataclass(frozen=True)
class Source:
    """One resolved source."""

    label: str         # datastore name or redacted URL, for messages
    fs: Any
    root: str | None   # the datastore's root path (None for URL sources)
    pattern: str       # the full pattern in ``fs``
    base: str          # the folder portable paths of this source are relative to
    kind: str          # "file", "folder", "glob" or "missing"
    folder: str | None  # the folder whose every file the source names (mountable as a whole)
    identity: str = ""  # where the files live, without secrets (cache keys; see fs.identity)
    shown: str = ""     # how messages name the source (default: from label, pattern and root)
    key_base: tuple[str, str] | None = None   # bound copy: (its folder, the base it stands for)


@dataclass
class Resolution:
    sources: list[Source]
    matches: list[Match] = field(default_factory=list)
    empty: tuple[int, ...] = ()   # indexes of the sources that matched no file

    @property
    def single_file(self) -> bool:
        """The dataset is one file named without a glob (Azure then appends its name)."""
        return len(self.sources) == 1 and self.sources[0].kind == "file"

    @property
    def local(self) -> bool:
        return all(is_local(s.fs) for s in self.sources)

    def describe(self, indexes=None) -> str:
        """``('datastore', 'path/in/it/*.csv')`` per source (URL sources: the redacted URL); only
        the sources at ``indexes`` when given."""
        chosen = range(len(self.sources)) if indexes is None else indexes
        return ", ".join(_shown(self.sources[i]) for i in chosen)

    def require_files(self, fix: str) -> None:
        """Raise UserErrorException naming every source that matched no file (a path that does
        not exist, or a glob with no match), followed by ``fix``."""
        if self.empty:
            raise UserErrorException(
                f"{NO_DATA} No file matches {self.describe(self.empty)}. {fix}")


# Azure's wording when a dataset has no data (dataset_factory validation).
NO_DATA = ("Cannot load any data from the specified path. Make sure the path is accessible and "
           "contains data.")


def check_sources(sources) -> list[dict]:
    """Validate the sources of a definition; return them normalised. Raises UserErrorException."""
    if not isinstance(sources, list) or not sources:
        raise UserErrorException("a dataset definition needs a non-empty list of 'sources'")
    result = []
    for src in sources:
        if isinstance(src, dict) and isinstance(src.get("datastore"), str) \
                and isinstance(src.get("query"), str):   # a SQL datastore's query (.sql)
            result.append({"datastore": src["datastore"], "query": src["query"]})
        elif isinstance(src, dict) and isinstance(src.get("datastore"), str):
            result.append({"datastore": src["datastore"],
                           "path": safe_relpath(src.get("path", ""), "dataset path")})
        elif isinstance(src, dict) and isinstance(src.get("url"), str):
            result.append({"url": src["url"]})
        else:
            raise UserErrorException(
                f"dataset source {src!r} is not valid: use {{'datastore': NAME, 'path': PATTERN}} "
                "or {'url': URL}")
    return result


def resolve_sources(sources: list[dict], resolve_datastore: Resolver,
                    bound: dict | None = None) -> Resolution:
    """Expand every source and compute portable paths.

    ``resolve_datastore(name) -> (url, storage_options)``; ``bound`` is a definition's
    ``"bound"`` entry (see the module docstring): its sources resolve to the bound copy. Raises
    UserErrorException for paths leaving the datastore, for unusable URLs, and when two different
    files would get the same portable path (sources from different datastores with the same file
    names).
    """
    entries = _bound_entries(bound, len(sources) if isinstance(sources, list) else 0)
    resolved: list[Source] = []
    found: list[tuple[int, str, dict]] = []
    for index, src in enumerate(check_sources(sources)):
        if "query" in src:
            raise UserErrorException(
                f"the source ({src['datastore']!r}, {src['query'][:80]!r}) is a SQL query, "
                "which has no files: read it with to_pandas_dataframe(), or pass the dataset to "
                "a step with as_named_input(name)")
        if "datastore" in src:
            label, shown = src["datastore"], f"({src['datastore']!r}, {src['path']!r})"
        else:
            label = redact_url(src["url"])
            shown = repr(label)
        entry = entries[index]
        if entry is not None:
            url, options = entry["root"], {}
            fs, broot = fs_for(url, options)
            rel = entry["pattern"]
            source, files = _expand_one(fs, None, label, join(broot, rel), rel)
            source = replace(source, base=broot, key_base=(broot, entry["base"]))
        elif "datastore" in src:
            url, options = resolve_datastore(src["datastore"])
            fs, root = fs_for(url, options)
            rel = src["path"]
            source, files = _expand_one(fs, root, label, join(root, rel), rel)
        else:
            url, options = src["url"], {}
            fs, pattern = fs_for(url, options)
            source, files = _expand_one(fs, None, label, pattern, pattern)
        resolved.append(replace(source, identity=identity(url, options), shown=shown))
        found.extend((index, path, info) for path, info in files.items())

    labels = {s.label for s in resolved}
    if len(labels) == 1 and not any(s.key_base for s in resolved):
        # one place: portable paths relative to the common base of all sources
        base = common_folder([s.base for s in resolved])
        resolved = [_with_base(s, base) for s in resolved]
    result = Resolution(resolved, empty=tuple(
        sorted(set(range(len(resolved))) - {index for index, _, _ in found})))
    by_portable: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for index, path, info in sorted(found, key=lambda f: f[1]):
        src = resolved[index]
        if (src.label, path) in seen:
            continue
        seen.add((src.label, path))
        portable = "/" + relative_to(path, src.base)
        other = by_portable.setdefault(portable, f"{src.label}:{path}")
        if other != f"{src.label}:{path}":
            raise UserErrorException(
                f"two files would appear at the same path {portable!r} in the dataset "
                f"({other} and {src.label}:{path}); build one dataset per datastore, or name "
                "folders that do not overlap")
        relpath = _relpath(src, path)
        result.matches.append(Match(index, path, f"{src.label}:{relpath}", portable,
                                    info.get("size"), _mtime(src.fs, path, info), relpath))
    result.matches.sort(key=lambda m: m.portable)
    return result


def expand(url: str, storage_options: dict | None, path_patterns) -> list[str]:
    """The files of the datastore at ``url`` matching ``path_patterns`` (a pattern or a list),
    as paths relative to the datastore's root, sorted. A folder matches every file below it."""
    patterns = [path_patterns] if isinstance(path_patterns, str) else list(path_patterns)
    res = resolve_sources([{"datastore": "datastore", "path": p} for p in patterns],
                          lambda _name: (url, dict(storage_options or {})))
    return sorted({m.relpath for m in res.matches})


def content_digest(matches: list[Match]) -> str:
    """sha256 over the sorted (source key, size, version stamp) of every file: cheap, and
    changes when a file is added, removed, resized or touched (locally), or rewritten (remote
    objects get a new etag)."""
    rows = sorted([m.key, m.size, m.mtime] for m in matches)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


# -- internals --------------------------------------------------------------------------------
def _expand_one(fs, root, label, pattern, rel) -> tuple[Source, dict[str, dict]]:
    if has_magic(rel):
        prefix, rest = fixed_prefix(pattern)
        files: dict[str, dict] = {}
        for path, info in fs.glob(pattern, detail=True).items():
            if info.get("type") == "directory":
                files.update(fs.find(path, detail=True))
            else:
                files[path] = info
        folder = prefix if rest in _WHOLE_FOLDER else None
        return Source(label, fs, root, pattern, prefix, "glob", folder), files
    if fs.isfile(pattern):
        return (Source(label, fs, root, pattern, parent(pattern), "file", None),
                {pattern: fs.info(pattern)})
    if fs.isdir(pattern):
        return (Source(label, fs, root, pattern, pattern, "folder", pattern),
                fs.find(pattern, detail=True))
    return Source(label, fs, root, pattern, parent(pattern), "missing", None), {}


def _relpath(src: Source, path: str) -> str:
    if src.key_base is not None:
        folder, base = src.key_base
        return join(base, relative_to(path, folder))
    return relative_to(path, src.root) if src.root is not None else path


def _bound_entries(bound, count: int) -> list:
    """One ``{"root", "base", "pattern"}`` or None per source. Raises UserErrorException."""
    if bound is None:
        return [None] * count
    entries = bound.get("sources") if isinstance(bound, dict) else None
    root = bound.get("root") if isinstance(bound, dict) else None
    if not isinstance(root, str) or not root.startswith("/") or not isinstance(entries, list) \
            or len(entries) != count or not all(
                e is None or (isinstance(e, dict) and isinstance(e.get("base"), str)
                              and isinstance(e.get("pattern"), str)) for e in entries):
        raise UserErrorException(
            "the dataset definition's 'bound' entry is not valid; it is written by the runner "
            "for a step's inputs, rebuild the dataset from its registration instead")
    return [None if e is None else {"root": root, "base": e["base"], "pattern": e["pattern"]}
            for e in entries]


def _shown(src: Source) -> str:
    return src.shown or repr(src.label)


def _with_base(src: Source, base: str) -> Source:
    return replace(src, base=base)


def _mtime(fs, path: str, info: dict) -> str:
    """The version stamp of a file (see :attr:`Match.mtime`): it changes whenever the file's
    content may have changed. For remote objects the etag (Azure, S3, GCS all give one) is
    preferred over a modification time, whose resolution may be a second."""
    if is_local(fs):
        try:
            return str(os.stat(path).st_mtime_ns)
        except OSError:
            return ""
    return version_stamp(info)


def version_stamp(info: dict) -> str:
    """``etag:<etag>``, else ``mtime:<modification time>``, else ``""`` from an fsspec info dict."""
    for key in ("etag", "ETag", "e_tag", "md5Hash", "version_id", "VersionId"):
        if info.get(key):
            return f"etag:{str(info[key]).strip(chr(34))}"
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        if info.get(key) is not None:
            value = info[key]
            return f"mtime:{value.isoformat() if hasattr(value, 'isoformat') else value}"
    return ""
