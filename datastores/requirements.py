"""What a step's environment needs to read a dataset definition inside its container.

The runner binds the files of datastore and ``file://`` sources into the step (see
:mod:`.materialize`), so reading those needs only the readers; remote URL sources (``https://``,
``s3://``, ``abfs://`` ...) are read by the step itself, through fsspec, and need the package of
their protocol. The package names come from fsspec's own registry of known implementations
(the module of the implementing class, or the packages its install hint names for
implementations that live in fsspec itself, such as HTTP's ``aiohttp``).
"""
from __future__ import annotations

import re

from .fs import protocol_of

# What reading a table needs: pandas for every format, pyarrow for Parquet (and pandas' Arrow
# string types), so both for any TabularDataset.
TABULAR_PACKAGES = ("pandas", "pyarrow")
# Packages named in quotes in an fsspec install hint ('HTTPFileSystem requires "requests" and
# "aiohttp" to be installed').
_QUOTED = re.compile(r"[\"']([A-Za-z0-9][A-Za-z0-9._-]*)[\"']")
_NAMED = (re.compile(r"\binstall\s+(?:the\s+)?([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE),
          re.compile(r"\brequires\s+([A-Za-z0-9][A-Za-z0-9._-]*)\s+to be installed",
                     re.IGNORECASE))


def step_requirements(definition: dict) -> tuple[str, ...]:
    """The pip packages a step needs to read ``definition`` (a dataset definition, as
    ``dataset._to_definition()`` gives it) inside its container, sorted, without duplicates.

    ``fsspec`` itself is not listed (every step environment has it). Raises UserErrorException
    (from fsspec's registry) for a URL protocol fsspec does not know.
    """
    packages: set[str] = set()
    if isinstance(definition, dict) and definition.get("type") == "TabularDataset":
        packages.update(TABULAR_PACKAGES)
    sources = definition.get("sources") if isinstance(definition, dict) else None
    for source in sources or []:
        url = source.get("url") if isinstance(source, dict) else None
        if isinstance(url, str):
            for part in url.split("::"):   # chained URLs: every protocol of the chain
                packages.update(protocol_packages(protocol_of(part)))
    return tuple(sorted(packages))


def protocol_packages(protocol: str) -> tuple[str, ...]:
    """The pip packages fsspec needs for ``protocol`` beyond fsspec itself (``()`` for local
    files and for protocols implemented by fsspec alone). Raises UserErrorException for a
    protocol fsspec does not know."""
    if protocol in ("file", "local"):
        return ()
    known = _known_implementation(protocol)
    module = known["class"].split(".", 1)[0]
    if module != "fsspec":
        return (_pip_name(module),)
    hint = known.get("err") or ""
    names = _QUOTED.findall(hint) or [m for rx in _NAMED for m in rx.findall(hint)]
    return tuple(sorted({_pip_name(m) for m in names}))


def _known_implementation(protocol: str) -> dict:
    from amlocal.errors import UserErrorException
    try:
        from fsspec.registry import known_implementations
    except ImportError as exc:
        raise UserErrorException("amlocal datastores need fsspec: pip install fsspec") from exc
    found = known_implementations.get(protocol)
    if found is None:
        raise UserErrorException(
            f"fsspec does not know the protocol '{protocol}'; known protocols: "
            f"{', '.join(sorted(known_implementations))}")
    return found


def _pip_name(module: str) -> str:
    """A module name as its pip package name (they agree for fsspec's implementations, apart
    from case and ``_``)."""
    return module.lower().replace("_", "-")
