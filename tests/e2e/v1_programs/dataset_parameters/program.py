# A v1 program with FileDataset and TabularDataset pipeline parameters, read inside the step by
# the consumption config's name, written as Azure ML users wrote them.
import azureml.core
from azureml.core import Dataset, Experiment, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.data.dataset_consumption_config import DatasetConsumptionConfig
from azureml.pipeline.core import Pipeline, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

print("SDK version:", azureml.core.VERSION)
ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
experiment = Experiment(ws, "showcasing-dataset")
compute_target = ComputeTarget.create(ws, "cpu-cluster",
                                      AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4))
datastore = ws.get_default_datastore()

with open("titanic.csv", "w") as f:
    f.write("PassengerId,Survived,Name\n1,0,Braund\n2,1,Cumings\n3,1,Heikkinen\n")
with open("iris.csv", "w") as f:
    f.write("sepal_length,sepal_width,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n")
datastore.upload_files(["titanic.csv", "iris.csv"], target_path="demo", overwrite=True)

file_dataset = Dataset.File.from_files((datastore, "demo/titanic.csv"))
file_pipeline_param = PipelineParameter(name="file_ds_param", default_value=file_dataset)
file_ds_consumption = DatasetConsumptionConfig("file_dataset", file_pipeline_param).as_mount()
tabular_dataset = Dataset.Tabular.from_delimited_files([(datastore, "demo/titanic.csv")])
tabular_pipeline_param = PipelineParameter(name="tabular_ds_param", default_value=tabular_dataset)
tabular_ds_consumption = DatasetConsumptionConfig("tabular_dataset", tabular_pipeline_param)

train_step = PythonScriptStep(
    name="train_step", script_name="train_with_dataset.py",
    arguments=["--param1", file_ds_consumption, "--param2", tabular_ds_consumption],
    inputs=[file_ds_consumption, tabular_ds_consumption],
    compute_target=compute_target, source_directory=".")
pipeline = Pipeline(workspace=ws, steps=[train_step])
pipeline_run = experiment.submit(pipeline)
pipeline_run.wait_for_completion(show_output=True)

iris_file_ds = Dataset.File.from_files((datastore, "demo/iris.csv"))
iris_tabular_ds = Dataset.Tabular.from_delimited_files((datastore, "demo/iris.csv"))
pipeline_run_with_params = experiment.submit(
    pipeline, pipeline_parameters={"file_ds_param": iris_file_ds, "tabular_ds_param": iris_tabular_ds})
pipeline_run_with_params.wait_for_completion(show_output=True)
print("DONE", pipeline_run.get_status(), pipeline_run_with_params.get_status())
