"""``amlocal.core``: the workspace API of ``azureml.core``."""
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
