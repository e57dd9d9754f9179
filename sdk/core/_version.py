"""The azureml SDK version whose API amlocal mirrors (``azureml.core.VERSION``, what v1 samples
print in their first cell), in a leaf so modules of the package can name it without importing
the package's ``__init__``."""
from __future__ import annotations

VERSION = "1.61.0"
