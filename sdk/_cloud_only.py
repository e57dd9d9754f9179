"""Names of the azureml v1 API that amlocal does not run: those only Azure can serve (AKS,
AutoML, HyperDrive's cloud sampling, Synapse, Databricks, ...), and the few that wait for a part
of amlocal that is not built yet (their reason says so).

They import, so a v1 script that merely imports them still runs; using one (calling it,
instantiating it, or touching any attribute such as ``AksCompute.provisioning_configuration``)
raises :class:`CloudOnlyError`, which names the thing and the local alternative where there is
one. None of them pretends to work. ``python -m amlocal._cloud_only`` prints the table that
``docs/azureml-coverage.md`` carries (a test keeps the two equal).
"""
from __future__ import annotations

import sys

from .errors import UserErrorException

_MARK = "__amlocal_cloud_only__"


class CloudOnlyError(UserErrorException):
    """A name that exists only in Azure Machine Learning was used."""


def _message(qualname: str, reason: str, alternative: str | None) -> str:
    text = f"{qualname} cannot be used with amlocal: {reason}."
    return f"{text} Instead: {alternative}" if alternative else f"{text} There is no local equivalent."


class _CloudOnlyType(type):
    """Metaclass of cloud-only classes: instantiating the class or reading any public attribute
    of it raises CloudOnlyError."""

    def __call__(cls, *args, **kwargs):
        raise CloudOnlyError(_message(cls.__amlocal_qualname__, *getattr(cls, _MARK)))

    def __getattr__(cls, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise CloudOnlyError(_message(f"{cls.__amlocal_qualname__}.{attr}", *getattr(cls, _MARK)))


def cloud_only_class(module: str, name: str, reason: str, alternative: str | None = None,
                     base: type = object) -> type:
    """A class that imports and fails with CloudOnlyError when used. ``module`` is the azureml
    module path it mirrors (``azureml.core.compute``); ``reason`` completes "cannot be used with
    amlocal: ..." (e.g. "AKS clusters exist only in Azure"); ``alternative`` says what to use
    locally, if anything."""
    qualname = f"{module}.{name}"
    return _CloudOnlyType(name, (base,), {
        _MARK: (reason, alternative), "__amlocal_qualname__": qualname,
        "__module__": "amlocal" + module[len("azureml"):],
        "__doc__": _message(qualname, reason, alternative)})


def cloud_only_function(module: str, name: str, reason: str, alternative: str | None = None):
    """A function that imports and fails with CloudOnlyError when called."""
    qualname = f"{module}.{name}"

    def function(*args, **kwargs):
        raise CloudOnlyError(_message(qualname, reason, alternative))

    function.__name__ = function.__qualname__ = name
    function.__module__ = "amlocal" + module[len("azureml"):]
    function.__doc__ = _message(qualname, reason, alternative)
    setattr(function, _MARK, (reason, alternative))
    return function


def is_cloud_only(obj) -> bool:
    return _MARK in getattr(obj, "__dict__", {})


def describe(obj) -> tuple[str, str | None]:
    """(reason, alternative) of a cloud-only name."""
    return getattr(obj, _MARK)


def table(entries: list[tuple[str, object]]) -> str:
    """The markdown table of the given ``(azureml qualified name, object)`` cloud-only names."""
    lines = ["| name | why amlocal does not run it | use locally instead |", "| --- | --- | --- |"]
    for qualname, obj in sorted(entries):
        reason, alternative = describe(obj)
        lines.append(f"| `{qualname}` | {reason} | {alternative or '-'} |")
    return "\n".join(lines) + "\n"


def census(fixture: dict) -> tuple[list, list, list]:
    """Resolve the names and methods of the surface fixture (see tests/fixtures): returns
    (working, cloud-only, missing), each a list of ``(azureml qualified name, object)`` (the
    object is None for missing ones). Methods of classes that are cloud-only as a whole are not
    counted (the class already raises)."""
    import importlib
    working, cloud, missing = [], [], []

    def sort(qualname, obj):
        if obj is None:
            missing.append((qualname, None))
        else:
            (cloud if is_cloud_only(obj) else working).append((qualname, obj))

    def module_of(name):
        try:
            return importlib.import_module("amlocal" + name[len("azureml"):])
        except ImportError:
            return None

    for module, names in fixture["modules"].items():
        real = module_of(module)
        for name in names:
            sort(f"{module}.{name}", getattr(real, name, None) if real else None)
    for qualname, methods in fixture.get("methods", {}).items():
        module, cls = qualname.rsplit(".", 1)
        real = module_of(module)
        owner = getattr(real, cls, None) if real else None
        if owner is None or is_cloud_only(owner):
            continue
        for method in methods:
            sort(f"{qualname}.{method}", getattr(owner, method, None))
    return working, cloud, missing


def main() -> int:
    """Print the table of the names (and methods) of the surface fixture that amlocal does not
    run."""
    import json
    from pathlib import Path
    fixture = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/azureml_public_names.json")
    _, cloud, _ = census(json.loads(fixture.read_text()))
    sys.stdout.write(table(cloud))
    return 0


if __name__ == "__main__":
    sys.exit(main())
