# A v1 program that publishes a pipeline, triggers it over REST with the sample's
# InteractiveLoginAuthentication header, and puts a PipelineEndpoint in front of its versions
# (the v1 "how to deploy pipelines" and "how to use pipeline endpoint" samples).
import requests

import azureml.core
from azureml.core import Experiment, Workspace
from azureml.core.authentication import InteractiveLoginAuthentication
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.pipeline.core import Pipeline, PipelineEndpoint, PipelineParameter, PipelineRun
from azureml.pipeline.core.graph import PublishedPipeline
from azureml.pipeline.steps import PythonScriptStep

print("SDK version:", azureml.core.VERSION)
ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")

try:
    aml_compute = ComputeTarget(workspace=ws, name="cpu-cluster")
except ComputeTargetException:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    aml_compute = ComputeTarget.create(ws, "cpu-cluster", config)
    aml_compute.wait_for_completion(show_output=True)

pipeline_param = PipelineParameter(name="pipeline_arg", default_value=10)
step = PythonScriptStep(name="hello_world", script_name="hello_world.py",
                        arguments=["--arg1", pipeline_param], compute_target=aml_compute,
                        source_directory=".", allow_reuse=False)
pipeline = Pipeline(workspace=ws, steps=[step])
published_pipeline1 = pipeline.publish(name="My_Published_Pipeline",
                                       description="My Published Pipeline Description",
                                       continue_on_step_failure=True)

# Trigger the published pipeline with an HTTP request
auth = InteractiveLoginAuthentication()
aad_token = auth.get_authentication_header()
rest_endpoint1 = published_pipeline1.endpoint
print("You can perform HTTP POST on URL {} to trigger this pipeline".format(rest_endpoint1))
response = requests.post(rest_endpoint1, headers=aad_token,
                         json={"ExperimentName": "My_Pipeline", "RunSource": "SDK",
                               "ParameterAssignments": {"pipeline_arg": 45}})
try:
    response.raise_for_status()
except Exception:
    raise Exception("Received bad response from the endpoint: {}\n"
                    "Response Code: {}\n"
                    "Headers: {}\n"
                    "Content: {}".format(rest_endpoint1, response.status_code, response.headers,
                                         response.content))
run_id = response.json().get("Id")
print("Submitted pipeline run: ", run_id)
published_pipeline_run = PipelineRun(ws.experiments["My_Pipeline"], run_id)
published_pipeline_run.wait_for_completion(show_output=True)
print("REST RUN", published_pipeline_run.get_status())

# A PipelineEndpoint in front of the published pipeline's versions
pipeline_endpoint = PipelineEndpoint.publish(workspace=ws, name="PipelineEndpointTest",
                                             pipeline=published_pipeline1,
                                             description="Test description Notebook")
pipeline_endpoint_by_name = PipelineEndpoint.get(workspace=ws, name="PipelineEndpointTest")
run_id = pipeline_endpoint_by_name.submit("PipelineEndpointExperiment")
print(run_id)
run_id.wait_for_completion()

published_pipeline = pipeline.publish(name="Published_Pipeline_Notebook",
                                      description="Notebook Published Pipeline")
pipeline_endpoint_by_name.add_default(published_pipeline)
print("DEFAULT VERSION", pipeline_endpoint_by_name.get_default_version())
for version in pipeline_endpoint_by_name.list_versions():
    print("VERSION", version.version, version.pipeline.name)

pipeline_endpoint_by_name.set_default_version(version="0")
run_id = pipeline_endpoint_by_name.submit("PipelineEndpointExperiment", pipeline_version="0")
print(run_id)
run_id.wait_for_completion()
experiment = Experiment(ws, "PipelineEndpointExperiment")
pipeline_run = experiment.submit(pipeline_endpoint_by_name,
                                 pipeline_parameters={"pipeline_arg": 7}, pipeline_version="1")
pipeline_run.wait_for_completion(show_output=True)
print("EXPERIMENT SUBMIT", pipeline_run.get_status())

rest_endpoint = pipeline_endpoint_by_name.endpoint
response = requests.post(rest_endpoint, headers=aad_token,
                         json={"ExperimentName": "PipelineEndpointExperiment",
                               "RunSource": "API",
                               "ParameterAssignments": {"1": "united", "2": "city"}})
response.raise_for_status()
endpoint_run = PipelineRun(experiment, response.json()["Id"])
endpoint_run.wait_for_completion(show_output=True)
print("ENDPOINT REST", endpoint_run.get_status(), response.json()["PipelineId"] == published_pipeline1.id)

pipeline_endpoint_by_name.set_name(name="NewName")
print("RENAMED", PipelineEndpoint.get(workspace=ws, name="NewName").id == pipeline_endpoint.id)

p = PublishedPipeline.get(ws, id=published_pipeline1.id)
p.disable()
response = requests.post(rest_endpoint1, headers=aad_token, json={"ExperimentName": "My_Pipeline"})
print("DISABLED", response.status_code)
print("DONE", published_pipeline_run.get_status(), endpoint_run.get_status())
