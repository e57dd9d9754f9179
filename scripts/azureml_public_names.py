#!/usr/bin/env python3
"""Write tests/fixtures/azureml_public_names.json: the public names of the azureml v1 modules
amlocal mirrors, and the public methods of their classes, read from the published wheels.

The wheels are downloaded (``pip download --no-deps``) into a temporary folder, unzipped and
parsed with ``ast``; nothing is installed or imported and only the lists of names are kept. A
module's public names are its ``__all__`` when it has one, otherwise the classes, functions and
UPPER_CASE constants it defines at module level (names starting with ``_`` excluded). A class's
methods are the public functions its body defines (properties, which hold data, are left out;
inherited methods are listed under the class that defines them).

    python scripts/azureml_public_names.py            # rewrite the fixture
    python scripts/azureml_public_names.py --check    # exit 1 when the fixture is out of date
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = ["azureml-core==1.61.0.post4", "azureml-pipeline-core==1.62.0",
          "azureml-pipeline-steps==1.62.0", "azureml-widgets==1.62.0"]

MODULES = """
azureml.core azureml.core.authentication azureml.core.compute azureml.core.compute_target
azureml.core.conda_dependencies azureml.core.dataset azureml.core.datastore
azureml.core.environment azureml.core.experiment azureml.core.model azureml.core.run
azureml.core.runconfig azureml.core.script_run azureml.core.script_run_config
azureml.core.workspace azureml.core.webservice azureml.exceptions
azureml.data azureml.data.data_reference azureml.data.datapath
azureml.data.dataset_consumption_config azureml.data.output_dataset_config
azureml.data.file_dataset azureml.data.tabular_dataset azureml.data.azure_storage_datastore
azureml.data.dataset_factory azureml.data.abstract_dataset
azureml.pipeline.core azureml.pipeline.core.graph azureml.pipeline.core.builder
azureml.pipeline.core.run azureml.pipeline.core.pipeline azureml.pipeline.core.pipeline_endpoint
azureml.pipeline.core.schedule azureml.pipeline.core.pipeline_output_dataset
azureml.pipeline.steps azureml.pipeline.steps.python_script_step
azureml.pipeline.steps.parallel_run_config azureml.pipeline.steps.parallel_run_step
azureml.widgets
""".split()

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "azureml_public_names.json"


def public_names(source: str) -> list[str]:
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return sorted(n for n in ast.literal_eval(node.value) if not n.startswith("_"))
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()]
    return sorted({n for n in names if not n.startswith("_")})


def _is_property(node) -> bool:
    for deco in node.decorator_list:
        if isinstance(deco, ast.Name) and deco.id == "property":
            return True
        if isinstance(deco, ast.Attribute) and deco.attr in ("setter", "getter", "deleter"):
            return True
    return False


def public_methods(source: str, classes: list[str]) -> dict[str, list[str]]:
    """``{class: [method names]}`` for the public classes of ``classes`` defined in ``source``."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name in classes:
            found[node.name] = sorted({
                item.name for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                and not item.name.startswith("_") and not _is_property(item)})
    return found


def collect(folder: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "-d", str(folder), *WHEELS], check=True)
    tree = folder / "src"
    for wheel in folder.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tree)
    names, methods = {}, {}
    for module in MODULES:
        base = tree.joinpath(*module.split("."))
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        source = path.read_text(encoding="utf-8")
        names[module] = public_names(source)
        for cls, found in public_methods(source, names[module]).items():
            if found:
                methods[f"{module}.{cls}"] = found
    return names, methods


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixture")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        names, methods = collect(Path(tmp))
    text = json.dumps({"wheels": WHEELS, "modules": names, "methods": methods}, indent=1,
                      sort_keys=True) + "\n"
    if args.check:
        same = FIXTURE.is_file() and FIXTURE.read_text() == text
        print("fixture is up to date" if same else f"{FIXTURE} is out of date: run this script")
        return 0 if same else 1
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(text)
    print(f"wrote {FIXTURE}: {sum(len(v) for v in names.values())} names in {len(names)} modules, "
          f"{sum(len(v) for v in methods.values())} methods of {len(methods)} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
