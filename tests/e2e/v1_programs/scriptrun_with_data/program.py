# A v1 "ScriptRunConfig with data input and output" program: a FileDataset mounted through the
# arguments and an OutputFileDatasetConfig written back to the datastore, written as Azure ML
# users wrote them; then the datasets tutorial's direct TabularDataset input.
import os

from azureml.core import Dataset, Environment, Experiment, ScriptRunConfig, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.core.conda_dependencies import CondaDependencies
from azureml.data import OutputFileDatasetConfig

ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
print("Workspace name: " + ws.name, "Azure region: " + ws.location,
      "Subscription id: " + ws.subscription_id, "Resource group: " + ws.resource_group, sep="\n")
cluster_name = "cpu-cluster"
try:
    compute_target = ComputeTarget(workspace=ws, name=cluster_name)
    print("Found existing compute target")
except ComputeTargetException:
    print("Creating a new compute target...")
    compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
    compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
print(compute_target.get_status().serialize())

with open("iris.csv", "w") as f:
    f.write("sepal_length,sepal_width,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n")
def_blob_store = ws.get_default_datastore()
def_blob_store.upload_files(files=["iris.csv"], target_path="script-run/", overwrite=True,
                            show_progress=True)

input_data = Dataset.File.from_files(def_blob_store.path("script-run/iris.csv")) \
    .as_named_input("input").as_mount()
output = OutputFileDatasetConfig(destination=(def_blob_store, "sample/outputdataset"))
myenv = Environment("myenv")
myenv.docker.enabled = True
myenv.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-sdk>=1.12.0"])
src = ScriptRunConfig(source_directory="script_run", script="dummy_train.py",
                      arguments=[input_data, output], compute_target=compute_target,
                      environment=myenv)
exp = Experiment(ws, "ScriptRun_sample")
run = exp.submit(config=src)
run.wait_for_completion(show_output=True)
print("FIRST", run.get_status())
copied = os.path.join("downloaded", "sample", "outputdataset", "output.csv")
def_blob_store.download("downloaded", prefix="sample/outputdataset", overwrite=True)
print("COPIED", open(copied).read() == open("iris.csv").read())

# the datasets tutorial: a registered TabularDataset passed by name to the script
iris = Dataset.Tabular.from_delimited_files(path=[(def_blob_store, "script-run/iris.csv")])
iris = iris.register(workspace=ws, name="iris", description="iris data", create_new_version=True)
print("TAKE", iris.take(2).to_pandas_dataframe().shape)
tab_env = Environment("tab-env")
tab_env.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-dataset-runtime[pandas]"])
src = ScriptRunConfig(source_directory="script_run", script="train_titanic.py",
                      arguments=["--input-data", iris.as_named_input("iris")],
                      compute_target=compute_target, environment=tab_env)
run = exp.submit(src)
run.wait_for_completion(show_output=True)
print("SECOND", run.get_status(), run.get_metrics().get("rows"))
