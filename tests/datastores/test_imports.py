"""The dataset and datastore modules import with the standard library alone (step containers)."""
from __future__ import annotations

import subprocess
import sys

BLOCKED = ["fsspec", "pandas", "yaml", "sqlalchemy", "docker", "rich", "click", "pyarrow",
           "adlfs", "azure"]
MODULES = ["amlocal.data", "amlocal.data.datapath", "amlocal.core.dataset",
           "amlocal.core.datastore", "amlocal.data.azure_storage_datastore", "amlocal.datastores",
           "amlocal.datastores.materialize", "amlocal.datastores.cache",
           "amlocal.datastores.azure", "amlocal.datastores.progress"]


def test_modules_import_without_third_party_packages():
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}: sys.modules[name] = None\n"
        f"for name in {MODULES!r}: __import__(name)\n"
        "from amlocal.data import DatasetConsumptionConfig, OutputFileDatasetConfig\n"
        "out = OutputFileDatasetConfig('o')\n"
        "print(out.as_input('i').arg_val, out.arg_val)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "DatasetConsumptionConfig:i DatasetOutputConfig:o"
