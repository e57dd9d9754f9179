"""The import contracts of .importlinter hold (import-linter's lint-imports).

sdk/, compute/ and datastores/ are one package, ``amlocal``, only once installed; lint-imports
reads the package as files, so it runs over the package laid out as a wheel installs it (the
same tree the step runtime mounts: ``amlocal._engine.runtime_tree.package_tree``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold(tmp_path):
    from amlocal._engine.runtime_tree import package_tree
    lint = shutil.which("lint-imports")
    assert lint, "import-linter is a test dependency: pip install -e '.[test]'"
    tree = package_tree(tmp_path / "tree").parent
    done = subprocess.run([lint, str(ROOT / ".importlinter")], cwd=tree, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tree)}, timeout=300)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    assert "BROKEN" not in report and "KEPT" in report
