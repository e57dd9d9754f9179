# A v1 batch-scoring program: ParallelRunStep over a registered FileDataset, a registered model,
# the appended results downloaded and read, written as Azure ML users wrote them.
import os
import shutil
from datetime import datetime

import pandas as pd

from azureml.core import Environment, Experiment, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.dataset import Dataset
from azureml.core.datastore import Datastore
from azureml.core.model import Model
from azureml.core.runconfig import DEFAULT_CPU_IMAGE
from azureml.exceptions import ComputeTargetException
from azureml.pipeline.core import Pipeline, PipelineData
from azureml.pipeline.steps import ParallelRunConfig, ParallelRunStep

ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
os.makedirs("images", exist_ok=True)
for i in range(25):
    with open(f"images/img_{i:03d}.txt", "w") as f:
        f.write("x" * (i + 1))
os.makedirs("labels", exist_ok=True)
with open("labels/labels.txt", "w") as f:
    f.write("short\nlong\n")
def_data_store = ws.get_default_datastore()
def_data_store.upload(src_dir="images", target_path="batchscoring/images", overwrite=True)
def_data_store.upload(src_dir="labels", target_path="batchscoring/labels", overwrite=True)

input_images = Dataset.File.from_files((def_data_store, "batchscoring/images/"))
label_ds = Dataset.File.from_files((def_data_store, "batchscoring/labels/*.txt"))
output_dir = PipelineData(name="scores", datastore=def_data_store,
                          output_path_on_compute="batchscoring/results")
input_images = input_images.register(workspace=ws, name="input_images")
label_ds = label_ds.register(workspace=ws, name="label_ds")

os.makedirs("models", exist_ok=True)
with open("models/threshold.txt", "w") as f:
    f.write("12")
model = Model.register(model_path="models/threshold.txt", model_name="threshold",
                       tags={"pretrained": "threshold"}, description="a length threshold",
                       workspace=ws)
shutil.rmtree("models")

compute_name = "cpu-cluster"
try:
    compute_target = ComputeTarget(workspace=ws, name=compute_name)
except ComputeTargetException:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", vm_priority="lowpriority",
                                                   min_nodes=0, max_nodes=1)
    compute_target = ComputeTarget.create(workspace=ws, name=compute_name, provisioning_configuration=config)
    compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)

env = Environment(name="parallelenv")
env.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-defaults"])
env.docker.base_image = DEFAULT_CPU_IMAGE
parallel_run_config = ParallelRunConfig(
    environment=env, entry_script="batch_scoring.py", source_directory="scripts",
    output_action="append_row", mini_batch_size="5", error_threshold=1,
    compute_target=compute_target, process_count_per_node=2, node_count=1)
parallel_step_name = "batchscoring-" + datetime.now().strftime("%Y%m%d%H%M")
batch_score_step = ParallelRunStep(
    name=parallel_step_name, inputs=[input_images.as_named_input("input_images")],
    output=output_dir, arguments=["--model_name", "threshold", "--labels_name", "label_ds"],
    parallel_run_config=parallel_run_config, allow_reuse=False)
pipeline = Pipeline(workspace=ws, steps=[batch_score_step])
pipeline_run = Experiment(ws, "batch_scoring").submit(pipeline)
pipeline_run.wait_for_completion(show_output=True)

batch_run = next(pipeline_run.get_children())
batch_output = batch_run.get_output_data("scores")
batch_output.download(local_path="inception_results")
result_file = None
for root, dirs, files in os.walk("inception_results"):
    for file in files:
        if file.endswith("parallel_run_step.txt"):
            result_file = os.path.join(root, file)
df = pd.read_csv(result_file, delimiter=":", header=None)
df.columns = ["Filename", "Prediction"]
print("Prediction has ", df.shape[0], " rows")
print(df.sort_values("Filename").head(3))
published_pipeline = pipeline_run.publish_pipeline(
    name="Threshold_scoring", description="Batch scoring with a threshold", version="1.0")
print("PUBLISHED", published_pipeline.version)
