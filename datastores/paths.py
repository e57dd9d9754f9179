"""Paths inside a datastore: normalised, never escaping the datastore's root.

Only the standard library: these helpers run on the host and in step containers alike.
"""
from __future__ import annotations

import hashlib
import json
import re

from amlocal.errors import UserErrorException

_MAGIC = re.compile(r"[*?\[]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def has_magic(path: str) -> bool:
    """Whether ``path`` contains glob characters (``*``, ``?``, ``[``)."""
    return bool(_MAGIC.search(path))


def safe_relpath(path: str, what: str = "path") -> str:
    """Normalise a path inside a datastore and return it without a leading ``/``.

    A leading ``/`` means the datastore's root (Azure's tutorials write ``/models/x/input.csv``);
    ``\\`` separators become ``/``; ``.`` and empty parts are dropped; ``""`` is the root itself.

    Raises UserErrorException for ``..`` or a drive letter, which would leave the datastore.
    """
    if not isinstance(path, str):
        raise UserErrorException(
            f"{what} must be a string such as 'data/train.csv', not {type(path).__name__}")
    text = path.replace("\\", "/")
    if _DRIVE.match(text):
        raise UserErrorException(
            f"{what} {path!r} is a local drive path; give a path inside the datastore such as "
            "'data/train.csv'")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UserErrorException(
            f"{what} {path!r} leaves the datastore: '..' is not allowed. Give a path inside the "
            "datastore such as 'data/train.csv'")
    return "/".join(parts)


def join(root: str, relpath: str) -> str:
    """``root`` and a normalised ``relpath`` joined with ``/`` (``root`` may be ``""`` or ``/``)."""
    if not relpath:
        return root
    if not root:
        return relpath
    return root.rstrip("/") + "/" + relpath


def fixed_prefix(pattern: str) -> tuple[str, str]:
    """Split a glob pattern into the folder before its first glob component and the rest.

    ``"data/**/*.csv"`` gives ``("data", "**/*.csv")``; a pattern without glob characters gives
    ``(pattern, "")``.
    """
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        if has_magic(part):
            return "/".join(parts[:i]), "/".join(parts[i:])
    return pattern, ""


def parent(path: str) -> str:
    """The folder holding ``path`` (``"/"`` for a top-level absolute path)."""
    head, _, _ = path.rstrip("/").rpartition("/")
    if not head and path.startswith("/"):
        return "/"
    return head


def relative_to(path: str, base: str) -> str:
    """``path`` relative to the folder ``base`` (both fs paths, ``path`` inside ``base``)."""
    if not base or base == "/":
        return path.lstrip("/")
    base = base.rstrip("/")
    if path == base:
        return ""
    if not path.startswith(base + "/"):
        raise ValueError(f"{path!r} is not inside {base!r}")
    return path[len(base) + 1:]


def common_folder(paths: list[str]) -> str:
    """The deepest folder containing every path in ``paths`` (component-wise, not by characters)."""
    if not paths:
        return ""
    split = [p.rstrip("/").split("/") if p != "/" else [""] for p in paths]
    common: list[str] = []
    for parts in zip(*split):
        if all(part == parts[0] for part in parts):
            common.append(parts[0])
        else:
            break
    if common == [""]:
        return "/"
    return "/".join(common)


def common_prefix(rels: list[str]) -> str:
    """The deepest folder holding every datastore path in ``rels`` ("" for the root)."""
    if not rels:
        return ""
    parts = [r.split("/")[:-1] for r in rels]
    common = []
    for level in zip(*parts):
        if all(p == level[0] for p in level):
            common.append(level[0])
        else:
            break
    return "/".join(common)


def definition_id(definition: dict) -> str:
    """The content-free id of a dataset definition: sha256 of its canonical JSON.

    It depends only on what the definition names (datastore names, path patterns, options), never
    on the files, so a frozen pipeline and the runner compute the same id. A registered dataset's
    ``registered`` entry (its name and version) is not part of it, nor is the ``bound`` entry a
    step's copy carries (where the runner bound its files: see ``resolve``).
    """
    if isinstance(definition, dict) and ("registered" in definition or "bound" in definition):
        definition = {k: v for k, v in definition.items() if k not in ("registered", "bound")}
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
