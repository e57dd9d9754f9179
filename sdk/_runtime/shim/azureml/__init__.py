"""Inside step containers only: ``import azureml...`` is served by amlocal.

This folder is put on PYTHONPATH of every step (never on the host), so a step script, or a
subprocess it starts, can ``from azureml.core import Run`` unchanged.
"""
from amlocal import __version__  # noqa: F401 - azureml.__version__, as scripts print it
from amlocal import compat as _compat

_compat.install()
__path__ = []  # no modules of its own: `azureml.core` etc. resolve through the alias
