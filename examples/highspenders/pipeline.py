"""Publish the high-spenders training pipeline and write its id to highspenders.id.

Written exactly as for Azure ML v1; only the imports say `amlocal` (or keep `azureml` and run
`python -m amlocal.compat pipeline.py`).
"""
from amlocal.core import Dataset, Datastore, Workspace
from amlocal.core.compute import AmlCompute
from amlocal.core.conda_dependencies import CondaDependencies
from amlocal.core.runconfig import RunConfiguration
from amlocal.pipeline.core import Pipeline
from amlocal.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
lake = Datastore.get(ws, "MLData")
cluster = AmlCompute(ws, "cpu-cluster")

customers = Dataset.File.from_files(path=[(lake, "customers/2026/customers.csv")])

run_config = RunConfiguration(conda_dependencies=CondaDependencies.create(
    pip_packages=["pandas", "scikit-learn", "azureml-defaults"]))

train = PythonScriptStep(
    name="train high-spender model",
    script_name="train.py",
    arguments=["--data", customers.as_mount()],
    compute_target=cluster,
    runconfig=run_config,
    source_directory="src")

pipeline = Pipeline(workspace=ws, steps=[train])
problems = pipeline.validate()
if problems:
    raise SystemExit("pipeline is not valid:\n" + "\n".join(problems))

published = pipeline.publish(name="HighSpenders", description="Train the high-spender classifier")
with open("highspenders.id", "w") as handle:
    handle.write(published.id)
print(f"published pipeline {published.id}")
