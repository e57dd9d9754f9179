"""Azure's curated environments (``Environment.get(ws, "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")``).

Azure ships prebuilt environments whose names start with ``AzureML-``; v1 samples ask for them by
name instead of declaring packages. amlocal cannot pull Azure's images, so a curated name is
approximated by the same kind of stack from PyPI, locked and built like any environment, with
one warning that names what was chosen. Deliberate differences: versions are those that install
on the base image's Python (Azure's images pin older Pythons and packages; the pinned version
is named in the warning), and CUDA variants get the CPU
build of their framework (there are no GPUs here).

Only the standard library is imported (this module is mounted into step containers).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

module_logger = logging.getLogger(__name__)

_DATA_STACK = ("numpy", "pandas", "scipy", "scikit-learn", "joblib", "matplotlib")


@dataclass(frozen=True)
class CuratedFamily:
    """A family of curated environment names and the PyPI stack that stands in for it."""

    pattern: re.Pattern
    packages: tuple[str, ...]
    example: str
    framework: str | None = None   # the package whose Azure version the name carries


FAMILIES = (
    CuratedFamily(re.compile(r"^AzureML-Minimal$", re.I), (), "AzureML-Minimal"),
    CuratedFamily(re.compile(r"^AzureML-Tutorial$", re.I), _DATA_STACK, "AzureML-Tutorial"),
    CuratedFamily(re.compile(r"^AzureML-(?:sklearn|scikit-learn)-(?P<version>[\d.]+)(?:-.*)?$", re.I),
                  _DATA_STACK, "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu", "scikit-learn"),
    CuratedFamily(re.compile(r"^AzureML-lightgbm-(?P<version>[\d.]+)(?:-.*)?$", re.I),
                  ("lightgbm",) + _DATA_STACK, "AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu",
                  "lightgbm"),
    CuratedFamily(re.compile(r"^AzureML-xgboost-(?P<version>[\d.]+)(?:-.*)?$", re.I),
                  ("xgboost",) + _DATA_STACK, "AzureML-xgboost-0.9-ubuntu18.04-py37-cpu",
                  "xgboost"),
    CuratedFamily(re.compile(r"^AzureML-tensorflow-(?P<version>[\d.]+)(?:-.*)?$", re.I),
                  ("tensorflow-cpu", "numpy", "pandas"),
                  "AzureML-tensorflow-2.4-ubuntu18.04-py37-cpu", "tensorflow"),
    CuratedFamily(re.compile(r"^AzureML-(?:py)?torch-(?P<version>[\d.]+)(?:-.*)?$", re.I),
                  ("torch", "numpy", "pandas"), "AzureML-pytorch-1.10-ubuntu18.04-py38-cpu",
                  "torch"),
)


def family_of(name: str) -> tuple[CuratedFamily, str | None] | None:
    """The family of curated name ``name`` and the framework version the name carries, or None
    when ``name`` is not a curated name amlocal knows."""
    for family in FAMILIES:
        match = family.pattern.match(name or "")
        if match:
            return family, match.groupdict().get("version")
    return None


def curated_packages(name: str) -> list[str] | None:
    """The PyPI packages of an Environment standing in for Azure's curated environment
    ``name`` (logging how it is approximated), or None when the name does not start with
    ``AzureML-``. Raises UserErrorException for an ``AzureML-`` name of no known family
    (naming the families). ``Environment.get`` builds the Environment from them."""
    from ..errors import UserErrorException
    if not (name or "").lower().startswith("azureml-"):
        return None
    found = family_of(name)
    if found is None:
        known = ", ".join(f.example for f in FAMILIES)
        raise UserErrorException(
            f"curated environment '{name}' is not one amlocal can stand in for; it knows these "
            f"families (any version): {known}. Declare the packages instead: "
            "Environment(name).python.conda_dependencies = CondaDependencies.create(pip_packages=[...])")
    family, version = found
    pinned = f" (Azure's image pins {family.framework} {version})" if family.framework and version else ""
    module_logger.warning(
        "curated environment '%s' is approximated from PyPI with %s at the versions that install "
        "on the base image's Python%s", name, ", ".join(family.packages) or "no extra packages",
        pinned)
    return list(family.packages)
