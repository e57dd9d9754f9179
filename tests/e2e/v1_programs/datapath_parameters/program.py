# A v1 program showing DataPath pipeline parameters, a DataReference and PipelineData between
# steps, and a conda-declared environment, written as Azure ML users wrote them.
import azureml.core
from azureml.core import Experiment, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.runconfig import DEFAULT_CPU_IMAGE, RunConfiguration
from azureml.data.data_reference import DataReference
from azureml.data.datapath import DataPath, DataPathComputeBinding
from azureml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

print("SDK version:", azureml.core.VERSION)
ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
experiment = Experiment(ws, "showcasing-datapath")

amlcompute_cluster_name = "cpu-cluster"
cts = ws.compute_targets
if amlcompute_cluster_name in cts and cts[amlcompute_cluster_name].type == "AmlCompute":
    compute_target = cts[amlcompute_cluster_name]
else:
    provisioning_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    compute_target = ComputeTarget.create(ws, amlcompute_cluster_name, provisioning_config)
    compute_target.wait_for_completion(show_output=True, timeout_in_minutes=10)

def_blob_store = ws.get_default_datastore()
with open("news.txt", "w") as f:
    f.write("first line\nsecond line\n")
def_blob_store.upload_files(["./news.txt"], target_path="20newsgroups", overwrite=True)

# 1. a DataPath parameter to a folder that does not exist (the sample only prints it)
data_path = DataPath(datastore=def_blob_store, path_on_datastore="sample_datapath1")
datapath1_pipeline_param = PipelineParameter(name="input_datapath", default_value=data_path)
datapath_input = (datapath1_pipeline_param, DataPathComputeBinding(mode="mount"))
string_pipeline_param = PipelineParameter(name="input_string", default_value="sample_string1")
train_step = PythonScriptStep(
    name="train_step", script_name="train_with_datapath.py",
    arguments=["--arg1", string_pipeline_param, "--arg2", datapath_input],
    inputs=[datapath_input], compute_target=compute_target, source_directory=".")
pipeline = Pipeline(workspace=ws, steps=[train_step])
pipeline_run = experiment.submit(pipeline)
pipeline_run.wait_for_completion()
pipeline_run_with_params = experiment.submit(pipeline, pipeline_parameters={
    "input_datapath": DataPath(datastore=def_blob_store, path_on_datastore="20newsgroups"),
    "input_string": "sample_string2"})
pipeline_run_with_params.wait_for_completion(show_output=True)
published_pipeline = pipeline.publish(name="DataPath_Pipeline", description="Pipeline to test Datapath",
                                      continue_on_step_failure=True)
print("PUBLISHED", published_pipeline.name, published_pipeline.status)

# 2. a DataReference to one file, PipelineData between steps, a DataPath parameter to a file
blob_input_data = DataReference(datastore=def_blob_store, data_reference_name="test_data",
                                path_on_datastore="20newsgroups/news.txt")
processed_data1 = PipelineData("processed_data1", datastore=def_blob_store)
run_config = RunConfiguration()
run_config.environment.docker.enabled = True
run_config.environment.docker.base_image = DEFAULT_CPU_IMAGE
run_config.environment.python.user_managed_dependencies = False
run_config.environment.python.conda_dependencies = CondaDependencies.create(conda_packages=["six"])
train = PythonScriptStep(script_name="train.py",
                         arguments=["--input_data", blob_input_data, "--output_train", processed_data1],
                         inputs=[blob_input_data], outputs=[processed_data1],
                         compute_target=compute_target, source_directory=".", runconfig=run_config)
datapath = DataPath(datastore=def_blob_store, path_on_datastore="20newsgroups/news.txt")
datapath_param = PipelineParameter(name="compare_data", default_value=datapath)
data_parameter1 = (datapath_param, DataPathComputeBinding(mode="mount"))
processed_data2 = PipelineData("processed_data2", datastore=def_blob_store)
compare = PythonScriptStep(script_name="compare.py",
                           arguments=["--compare_data1", data_parameter1, "--compare_data2", processed_data1,
                                      "--output_compare", processed_data2],
                           inputs=[data_parameter1, processed_data1], outputs=[processed_data2],
                           compute_target=compute_target, source_directory=".")
pipeline1 = Pipeline(workspace=ws, steps=[compare])
run1 = Experiment(ws, "Data_dependency").submit(pipeline1)
run1.wait_for_completion(show_output=True)
compare_run = run1.find_step_run("compare.py")[0]
port = compare_run.get_output_data("processed_data2")
print("DOWNLOADED FILES", port.download(local_path="results"))
print("DONE", pipeline_run.get_status(), pipeline_run_with_params.get_status(), run1.get_status())
