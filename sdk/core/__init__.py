"""``amlocal.core``: the workspace API of ``azureml.core``.

``VERSION`` is the azureml SDK version whose API amlocal mirrors (what v1 samples print in their
first cell); amlocal's own version is ``amlocal.__version__``."""
VERSION = "1.61.0"
__version__ = VERSION

from .compute import ComputeTarget
from .datastore import Datastore
from .dataset import Dataset
from .environment import Environment
from .experiment import Experiment
from .model import Model
from .run import Run
from .runconfig import RunConfiguration
from .script_run_config import ScriptRunConfig
from .workspace import Workspace

__all__ = ["ComputeTarget", "Dataset", "Datastore", "Environment", "Experiment", "Model", "Run",
           "RunConfiguration", "ScriptRunConfig", "Workspace"]
