"""Every package folder ships: pyproject.toml lists each folder holding an __init__.py under
sdk/, compute/ and datastores/ (an explicit list: a folder left out would be missing from a
wheel while an editable checkout still imports it)."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {folder: package for package, folder in config["package-dir"].items()}
    found = set()
    for folder, package in roots.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *rel)))
    assert sorted(found - set(config["packages"])) == []
    assert sorted(set(config["packages"]) - found) == []
