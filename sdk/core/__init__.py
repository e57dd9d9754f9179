"""``amlocal.core``: the workspace API of ``azureml.core``.

``VERSION`` is the azureml SDK version whose API amlocal mirrors (what v1 samples print in their
first cell); amlocal's own version is ``amlocal.__version__``. The names only Azure can serve
(``Image``, ``Keyvault``, ``LinkedService``, private endpoints ...) import and raise
CloudOnlyError when used (``_cloud``)."""
from ._version import VERSION

__version__ = VERSION

from ._cloud import (Image, Keyvault, LinkedService, PrivateEndPoint, PrivateEndPointConfig,
                     SynapseWorkspaceLinkedServiceConfiguration)
from ._diagnostic_log import diagnostic_log
from .compute import ComputeTarget
from .compute_target import (attach_legacy_compute_target, is_compute_target_prepared,
                             prepare_compute_target, remove_legacy_compute_target)
from .datastore import Datastore
from .dataset import Dataset
from .environment import ContainerRegistry, Environment
from .experiment import Experiment
from .model import Model
from .run import Run, get_run
from .runconfig import RunConfiguration
from .script_run import ScriptRun
from .script_run_config import ScriptRunConfig
from .webservice import Webservice
from .workspace import Workspace

__all__ = ["ComputeTarget", "ContainerRegistry", "Dataset", "Datastore", "Environment",
           "Experiment", "Image", "Keyvault", "LinkedService", "Model", "PrivateEndPoint",
           "PrivateEndPointConfig", "Run", "RunConfiguration", "ScriptRun", "ScriptRunConfig",
           "SynapseWorkspaceLinkedServiceConfiguration", "Webservice", "Workspace",
           "attach_legacy_compute_target", "diagnostic_log", "get_run",
           "is_compute_target_prepared", "prepare_compute_target",
           "remove_legacy_compute_target"]
