# A v1 "getting started with pipelines" program, written as Azure ML users wrote them.
import json
import os

import azureml.core
from azureml.core import Datastore, Experiment, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.pipeline.core import Pipeline
from azureml.pipeline.steps import PythonScriptStep
from azureml.widgets import RunDetails

print("SDK version:", azureml.core.VERSION)

os.makedirs(".azureml", exist_ok=True)
with open(".azureml/config.json", "w") as f:
    json.dump({"subscription_id": "00000000-0000-0000-0000-000000000000",
               "resource_group": "samples-rg", "workspace_name": "samples-ws"}, f)

ws = Workspace.from_config()
print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep="\n")

def_file_store = ws.get_default_datastore()
print("Default datastore's name: {}".format(def_file_store.name))
def_blob_store = Datastore(ws, "workspaceblobstore")
print("Blobstore's name: {}".format(def_blob_store.name))

with open("numbers.txt", "w") as f:
    f.write("\n".join(str(i) for i in range(10)))
def_blob_store.upload_files(["./numbers.txt"], target_path="numbers", overwrite=True,
                            show_progress=True)

for ct in ws.compute_targets:
    print(ct)

aml_compute_target = "aml-compute"
try:
    aml_compute = ComputeTarget(workspace=ws, name=aml_compute_target)
    print("found existing compute target.")
except ComputeTargetException:
    print("creating new compute target")
    provisioning_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2",
                                                                min_nodes=1, max_nodes=4)
    aml_compute = ComputeTarget.create(ws, aml_compute_target, provisioning_config)
    aml_compute.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
print(aml_compute.get_status().serialize())

project_folder = "."
step1 = PythonScriptStep(name="train_step", script_name="train.py",
                         compute_target=aml_compute, source_directory=project_folder,
                         allow_reuse=False)
step2 = PythonScriptStep(name="compare_step", script_name="compare.py",
                         compute_target=aml_compute, source_directory=project_folder)
step3 = PythonScriptStep(name="extract_step", script_name="extract.py",
                         compute_target=aml_compute, source_directory=project_folder)
pipeline1 = Pipeline(workspace=ws, steps=[step1, step2, step3])
print(pipeline1.validate())
pipeline_run1 = Experiment(ws, "Hello_World1").submit(pipeline1, regenerate_outputs=True)
RunDetails(pipeline_run1).show()
pipeline_run1.wait_for_completion()

for step_run in pipeline_run1.get_children():
    status = step_run.get_status()
    print("Script:", step_run.name, "status:", status)
    if status == "Failed":
        print("job log:", step_run.get_job_log())
    print("{}: {}".format(step_run.name, step_run.get_metrics()))

step2.run_after(step1)
step3.run_after(step2)
pipeline2 = Pipeline(workspace=ws, steps=[step3])
pipeline2.validate()
pipeline_run2 = Experiment(ws, "Hello_World2").submit(pipeline2)
pipeline_run2.wait_for_completion(show_output=True)
order = sorted(pipeline_run2.get_children(), key=lambda r: r.get_details()["startTimeUtc"])
print("ORDER", [r.name for r in order])
print("DONE", pipeline_run1.get_status(), pipeline_run2.get_status())
