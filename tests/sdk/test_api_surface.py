"""The azureml v1 import surface, measured.

``tests/fixtures/azureml_public_names.json`` lists the public names of the azureml modules
amlocal mirrors, read from the published wheels by ``scripts/azureml_public_names.py``. Every
name must exist in the matching ``amlocal`` module, either as a working object or as a cloud-only
name listed in ``docs/azureml-coverage.md`` that raises CloudOnlyError when used. README.md states
the coverage figure this test computes.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from amlocal._cloud_only import CloudOnlyError, describe, is_cloud_only, table

ROOT = Path(__file__).resolve().parents[2]
MODULES = json.loads((ROOT / "tests/fixtures/azureml_public_names.json").read_text())["modules"]

# Names the issue and the reference require beyond __all__ / module definitions.
EXTRA = {
    "azureml.core": ["VERSION", "__version__"],
    "azureml.core.compute_target": ["ComputeTargetException", "UserErrorException"],
    "azureml.core.runconfig": ["Environment", "PythonSection", "DockerSection", "CondaDependencies",
                               "DatasetConsumptionConfig"],
}


def _all_names():
    for module, names in MODULES.items():
        for name in sorted(set(names) | set(EXTRA.get(module, []))):
            yield module, name


def _resolve(module: str, name: str):
    real = importlib.import_module("amlocal" + module[len("azureml"):])
    return getattr(real, name)


def _census():
    real, cloud, missing = [], [], []
    for module, name in _all_names():
        try:
            obj = _resolve(module, name)
        except (ImportError, AttributeError):
            missing.append(f"{module}.{name}")
            continue
        (cloud if is_cloud_only(obj) else real).append((f"{module}.{name}", obj))
    return real, cloud, missing


def test_every_public_name_exists():
    _, _, missing = _census()
    assert not missing, f"{len(missing)} azureml names are missing from amlocal:\n" + "\n".join(missing)


def test_cloud_only_names_are_documented_and_raise_when_used():
    _, cloud, _ = _census()
    doc = (ROOT / "docs/azureml-coverage.md").read_text()
    assert table(cloud) in doc, ("docs/azureml-coverage.md does not carry the current cloud-only "
                                 "table: paste the output of `python -m amlocal._cloud_only`")
    for qualname, obj in cloud:
        reason, _ = describe(obj)
        assert reason
        with pytest.raises(CloudOnlyError, match=qualname.rsplit(".", 1)[1]):
            obj()
        if isinstance(obj, type):
            with pytest.raises(CloudOnlyError):
                obj.some_classmethod  # noqa: B018 - any attribute of a cloud-only class raises


def test_readme_states_the_coverage_figure():
    real, cloud, missing = _census()
    total = len(real) + len(cloud) + len(missing)
    figure = (f"{len(real)} of {total} public names work locally; the other {len(cloud)} import "
              "and raise a clear error when used")
    assert figure in (ROOT / "README.md").read_text(), f"README.md must say: {figure}"


def test_version_is_the_mirrored_sdk_version():
    import amlocal.core
    assert amlocal.core.VERSION == "1.61.0" == amlocal.core.__version__


def test_names_import_through_the_azureml_alias():
    code = ("from azureml.core import VERSION, Workspace\n"
            "from azureml.core.compute_target import ComputeTargetException\n"
            "from azureml.core.runconfig import DEFAULT_CPU_IMAGE, CondaDependencies\n"
            "from azureml.data.data_reference import DataReference\n"
            "from azureml.data.datapath import DataPath, DataPathComputeBinding\n"
            "from azureml.widgets import RunDetails\n"
            "from azureml.pipeline.steps import ParallelRunStep, ParallelRunConfig\n"
            "from azureml.core.compute import AksCompute\n"
            "print(VERSION, DEFAULT_CPU_IMAGE)\n")
    done = subprocess.run([sys.executable, "-c", "import amlocal.compat as c; c.install()\n" + code],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1.61.0 mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:")
