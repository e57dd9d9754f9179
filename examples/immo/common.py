"""What the training and the scoring pipelines share: the workspace, the compute target and the
step environment (scikit-learn; one lock, so the model is unpickled by the version that pickled
it)."""
from amlocal.core import Workspace
from amlocal.core.compute import AmlCompute
from amlocal.core.conda_dependencies import CondaDependencies
from amlocal.core.runconfig import RunConfiguration

SERVICE = "immo-prices"


def setting():
    ws = Workspace.from_config()
    cluster = AmlCompute(ws, "cpu-cluster")
    run_config = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["pandas", "pyarrow", "scikit-learn", "azureml-defaults"]))
    return ws, cluster, run_config
