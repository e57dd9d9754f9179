# A v1 "train on local" program: user-managed, system-managed and Docker-based runs of one script,
# then the best model registered, written as Azure ML users wrote them.
import subprocess

import numpy as np

import azureml.core
from azureml.core import Experiment, ScriptRunConfig, Workspace
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.runconfig import RunConfiguration

print("SDK version:", azureml.core.VERSION)
ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
exp = Experiment(workspace=ws, name="train-on-local")

run_config_user_managed = RunConfiguration()
run_config_user_managed.environment.python.user_managed_dependencies = True
src = ScriptRunConfig(source_directory="./", script="train.py", run_config=run_config_user_managed)
run = exp.submit(src)
print(run)
run.wait_for_completion(show_output=True)
print("USER MANAGED", run.get_status(), run.get_properties().get("amlocal.execution"))

run_config_system_managed = RunConfiguration()
run_config_system_managed.environment.python.user_managed_dependencies = False
run_config_system_managed.auto_prepare_environment = True
cd = CondaDependencies.create(conda_packages=["numpy"])
run_config_system_managed.environment.python.conda_dependencies = cd
src = ScriptRunConfig(source_directory="./", script="train.py", run_config=run_config_system_managed)
run = exp.submit(src)
run.wait_for_completion(show_output=True)
print("SYSTEM MANAGED", run.get_status(), run.get_properties().get("amlocal.execution"))

run_config_docker = RunConfiguration()
run_config_docker.environment.python.user_managed_dependencies = False
run_config_docker.auto_prepare_environment = True
run_config_docker.environment.docker.enabled = True
run_config_docker.environment.docker.base_image = azureml.core.runconfig.DEFAULT_CPU_IMAGE
cd = CondaDependencies.create(conda_packages=["numpy"])
run_config_docker.environment.python.conda_dependencies = cd
src = ScriptRunConfig(source_directory="./", script="train.py", run_config=run_config_docker)
if subprocess.run("docker -v", shell=True).returncode == 0:
    run = exp.submit(src)
else:
    print("Docker engine not installed.")
run.wait_for_completion(show_output=True)
print("DOCKER", run.get_status(), run.get_properties().get("amlocal.execution"))

metrics = run.get_metrics()
best_alpha = metrics["alpha"][np.argmin(metrics["mse"])]
print("When alpha is {1:0.2f}, we have min MSE {0:0.2f}.".format(min(metrics["mse"]), best_alpha))
print(run.get_file_names())
model = run.register_model(model_name="best_ridge_model",
                           model_path="./outputs/ridge_{0:.2f}.pkl".format(best_alpha))
print("MODEL", model.name, model.version, model.url is not None)
