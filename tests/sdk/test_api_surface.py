"""The azureml v1 import surface, measured.

``tests/fixtures/azureml_public_names.json`` lists the public names of the azureml modules
amlocal mirrors, and the public methods of their classes, read from the published wheels by
``scripts/azureml_public_names.py``. Every name must exist in the matching ``amlocal`` module,
and every method on the matching class (unless the class as a whole is cloud-only), either
working or as a cloud-only name listed in ``docs/azureml-coverage.md`` that raises CloudOnlyError
when used. README.md states the coverage figures this test computes.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amlocal._cloud_only import CloudOnlyError, census, describe, table

ROOT = Path(__file__).resolve().parents[2]

# Names the issue and the reference require beyond __all__ / module definitions.
EXTRA = {
    "azureml.core": ["VERSION", "__version__"],
    "azureml.core.compute_target": ["ComputeTargetException", "UserErrorException"],
    "azureml.core.runconfig": ["Environment", "PythonSection", "DockerSection", "CondaDependencies",
                               "DatasetConsumptionConfig"],
}


def _census():
    """(working, cloud-only, missing) names and methods; see amlocal._cloud_only.census."""
    fixture = json.loads((ROOT / "tests/fixtures/azureml_public_names.json").read_text())
    fixture["modules"] = {m: sorted(set(names) | set(EXTRA.get(m, [])))
                          for m, names in fixture["modules"].items()}
    return census(fixture)


def test_every_public_name_and_method_exists():
    _, _, missing = _census()
    assert not missing, (f"{len(missing)} azureml names or methods are missing from amlocal:\n"
                         + "\n".join(q for q, _ in missing))


def test_cloud_only_names_are_documented_and_raise_when_used():
    _, cloud, _ = _census()
    doc = (ROOT / "docs/azureml-coverage.md").read_text()
    assert table(cloud) in doc, ("docs/azureml-coverage.md does not carry the current cloud-only "
                                 "table: paste the output of `python -m amlocal._cloud_only`")
    for qualname, obj in cloud:
        reason, _ = describe(obj)
        assert reason
        with pytest.raises(CloudOnlyError, match=qualname.rsplit(".", 1)[1]):
            obj()   # a cloud-only method raises whatever it is called with
        if isinstance(obj, type):
            with pytest.raises(CloudOnlyError):
                obj.some_classmethod  # noqa: B018 - any attribute of a cloud-only class raises


def _is_method(qualname: str) -> bool:
    module, _, _ = qualname.rpartition(".")
    return module.rsplit(".", 1)[-1][:1].isupper()   # azureml.x.Class.method


def test_readme_states_the_coverage_figure():
    real, cloud, missing = _census()
    figures = []
    for kind, keep in (("public names", lambda q: not _is_method(q)),
                       ("methods of the working classes", _is_method)):
        n_real = sum(keep(q) for q, _ in real)
        n_cloud = sum(keep(q) for q, _ in cloud)
        n_total = n_real + n_cloud + sum(keep(q) for q, _ in missing)
        figures.append(f"{n_real} of {n_total} {kind} work locally; the other {n_cloud} import "
                       "and raise a clear error when used")
    readme = (ROOT / "README.md").read_text()
    for figure in figures:
        assert figure in readme, f"README.md must say: {figure}"


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
