"""Helpers of :mod:`amlocal.core.model`: the dataset references recorded with a model version,
and ``InferenceConfig``'s configuration checks (``validate_configuration``,
``validation_script_content``), which azureml defines on ``azureml.core.model.InferenceConfig``.
"""
from __future__ import annotations

import os

from ..errors import UserErrorException, WebserviceException


def _recorded_datasets(workspace, info) -> dict:
    """``{scenario: [Dataset, ...]}`` rebuilt from a model version's recorded references."""
    from .dataset import Dataset
    found: dict = {}
    for ref in getattr(info, "datasets", None) or []:
        found.setdefault(ref["scenario"], []).append(
            Dataset._from_definition(ref["definition"], workspace))
    return found


def _record_datasets(model, datasets, inside_job: bool) -> None:
    """Record ``Model.register(datasets=...)``. Inside a step whose run service does not offer
    model updates, the references stay on the returned object and the step's log says so."""
    from ..errors import NotFoundError
    try:
        model.add_dataset_references(datasets)
    except NotFoundError as exc:
        if not inside_job:
            raise
        import sys
        print(f"amlocal: the datasets of model {model.id} could not be recorded from this step "
              f"({exc}); they are kept on the returned Model object only", file=sys.stderr)
        for scenario, dataset in datasets:
            model.datasets.setdefault(str(scenario), []).append(dataset)


def validate_configuration(self) -> None:
    """Check the configuration as Azure does before a deployment: an entry script that exists
    (relative to ``source_directory``, else to the current directory), is a ``.py`` file named
    as an importable module and parses; no environment together with runtime/conda_file.
    Raises WebserviceException (UserErrorException for a script that does not parse)."""
    if not self.entry_script:
        raise WebserviceException("Error, need to specify entry_script.")
    env = getattr(self, "environment", None)
    if env is not None and (getattr(self, "runtime", None) or getattr(self, "conda_file", None)):
        raise WebserviceException("Error, unable to provide runtime or conda_file along with an "
                                  "environment object.")
    if env is not None and env.docker.base_dockerfile and env.docker.base_image:
        raise WebserviceException("Error, only one of base_dockerfile or base_image should be "
                                  "provided to the environment.docker object.")
    if self.source_directory:
        self.source_directory = os.path.realpath(self.source_directory)
        if not os.path.exists(self.source_directory):
            raise WebserviceException(f"Error, provided source directory path "
                                      f"{self.source_directory} cannot be found.")
    script = os.path.join(self.source_directory or "", self.entry_script)
    if not os.path.exists(script):
        raise WebserviceException(f"Error, provided entry_script path {script} cannot be found. "
                                  "entry_script should be path relative to current working "
                                  "directory")
    stem, extension = os.path.splitext(os.path.basename(self.entry_script))
    if extension != ".py":
        raise WebserviceException("Invalid driver type. Currently only Python drivers are supported.")
    import keyword
    if not stem.isidentifier() or keyword.iskeyword(stem):
        raise WebserviceException(
            f'Error, invalid name "{stem}" for provided entry script. The script must be '
            "importable as a valid python module (a Python identifier, not a keyword).")
    conda_file = getattr(self, "conda_file", None)
    if conda_file and not os.path.exists(os.path.join(self.source_directory or "", conda_file)):
        raise WebserviceException(f"Error, provided Conda file path {conda_file} cannot be found.")
    self.validation_script_content()


def validation_script_content(self) -> None:
    """Check that the entry script parses (``ast.parse``); raises UserErrorException."""
    import ast
    script = os.path.join(self.source_directory or "", self.entry_script)
    try:
        with open(script, encoding="utf-8") as handle:
            contents = handle.read()
    except OSError:
        raise UserErrorException(f"Failed to open {script}, please check if it exists and the "
                                 "read permission. We can not deploy the model if we can not "
                                 "access this file.") from None
    try:
        ast.parse(contents, script)
    except SyntaxError as exc:
        raise UserErrorException(f"{exc}. Please check it and try local deployment to verify.") from None


def print_configuration(models, inference_config, deployment_config, deployment_target) -> None:
    """Print what a deployment would use: the models, the target, the entry script, the
    environment's variables, dependencies and image, and the deployment configuration."""
    if models:
        print(f"Models: {[model.id for model in models]}")
    if deployment_target:
        print(f"Compute target: {deployment_target.name}")
    if inference_config:
        print("Entry script: " + os.path.join(inference_config.source_directory or "",
                                              inference_config.entry_script))
        env = inference_config.environment
        if env is not None:
            if env.environment_variables and len(env.environment_variables) > 1:
                print(f"Environment variables: {env.environment_variables}")
            conda = env.python.conda_dependencies if env.python else None
            packages = conda.as_dict().get("dependencies") if conda is not None else None
            if packages:
                print(f"Environment dependencies: {packages}")
            if env.docker and env.docker.base_image:
                print(f"Environment docker image: {env.docker.base_image}")
            if env.docker and env.docker.base_dockerfile:
                print(f"Environment docker file: {env.docker.base_dockerfile}")
    if deployment_config and hasattr(deployment_config, "print_deploy_configuration"):
        deployment_config.print_deploy_configuration()
