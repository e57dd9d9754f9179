"""Run unchanged ``azureml`` code on amlocal.

``python -m amlocal.compat pipeline.py [args...]`` runs a script whose imports say
``azureml...`` with amlocal serving those modules. The alias is an import hook installed in that
process only: nothing is installed globally, and other processes see no ``azureml`` package.
Inside step containers the alias is always active (the runtime puts a shim on PYTHONPATH), so
step scripts with ``from azureml.core import Run`` work unchanged.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import runpy
import sys

PREFIX = "azureml"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real_name: str):
        self.real_name = real_name
        self._original_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.real_name)
        self._original_spec = module.__spec__
        return module

    def exec_module(self, module):
        # importlib stamped the alias spec on the real module; give it its own back.
        module.__spec__ = self._original_spec


class AzuremlAlias(importlib.abc.MetaPathFinder):
    """Maps ``azureml.X`` to ``amlocal.X`` (``azureml`` itself to ``amlocal``)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PREFIX and not fullname.startswith(PREFIX + "."):
            return None
        real = "amlocal" + fullname[len(PREFIX):]
        real_spec = importlib.util.find_spec(real)
        if real_spec is None:
            raise ModuleNotFoundError(
                f"amlocal does not provide {fullname} (looked for {real}); amlocal covers "
                "azureml.core, azureml.data, azureml.pipeline.core and azureml.pipeline.steps",
                name=fullname)
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(real), is_package=real_spec.submodule_search_locations is not None)


def install() -> None:
    """Serve ``azureml`` imports from amlocal in this process (idempotent)."""
    if not any(isinstance(f, AzuremlAlias) for f in sys.meta_path):
        sys.meta_path.insert(0, AzuremlAlias())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m amlocal.compat SCRIPT.py [ARGS...]\n"
              "Runs SCRIPT.py with its `azureml` imports served by amlocal.")
        return 0 if argv else 2
    install()
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
