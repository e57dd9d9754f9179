"""What the scripts of the example share: the workspace, the compute target, the step
environment (scikit-learn; one lock, so the scoring step unpickles the model with the version
that pickled it) and the database datastore."""
from amlocal.core import Datastore, Workspace
from amlocal.core.compute import AmlCompute
from amlocal.core.conda_dependencies import CondaDependencies
from amlocal.core.runconfig import RunConfiguration

SERVICE = "immo-sql-prices"
DATABASE = "immo_db"


def setting():
    ws = Workspace.from_config()
    cluster = AmlCompute(ws, "cpu-cluster")
    run_config = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["pandas", "pyarrow", "scikit-learn"]))
    return ws, cluster, run_config, Datastore.get(ws, DATABASE)
