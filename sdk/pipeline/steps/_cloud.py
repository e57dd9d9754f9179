"""The step classes of ``azureml.pipeline.steps`` that amlocal does not run: those that need an
Azure service (AutoML, HyperDrive's sampling, Databricks, Synapse, Data Lake Analytics, Batch,
Kusto, published modules) and the few that wait for a part of amlocal that is not built yet
(their reason says so). They import; using one raises CloudOnlyError naming the local way."""
from __future__ import annotations

from ..._cloud_only import cloud_only_class

_MODULE = "azureml.pipeline.steps"
_SCRIPT = "a PythonScriptStep"


def _step(name: str, reason: str, alternative: str | None):
    return cloud_only_class(_MODULE, name, reason, alternative)


AdlaStep = _step("AdlaStep", "U-SQL jobs run on Azure Data Lake Analytics only",
                 _SCRIPT + " that processes the files with pandas")
AutoMLStep = _step("AutoMLStep", "automated ML runs in the Azure ML service only",
                   _SCRIPT + " that trains and compares models itself (e.g. scikit-learn)")
AutoMLStepRun = _step("AutoMLStepRun", "automated ML runs in the Azure ML service only", None)
AzureBatchStep = _step("AzureBatchStep", "Azure Batch pools exist only in Azure",
                       _SCRIPT + " that runs the executable with subprocess")
CommandStep = _step(
    "CommandStep", "running a shell command as a step is not built in amlocal yet",
    _SCRIPT + " whose script runs the command: subprocess.run([...], check=True)")
DatabricksStep = _step("DatabricksStep", "notebooks and jobs run on Azure Databricks only",
                       _SCRIPT)
EstimatorStep = _step("EstimatorStep",
                      "Estimators are deprecated in azureml and amlocal does not model them",
                      _SCRIPT + " with a runconfig whose environment holds the framework")
HyperDriveStep = _step(
    "HyperDriveStep", "HyperDrive's hyperparameter sampling and early termination run in the "
    "Azure ML service only",
    "one PythonScriptStep per parameter value (a PipelineParameter, overridden per submit)")
HyperDriveStepRun = _step("HyperDriveStepRun", "HyperDrive runs exist only in Azure", None)
KustoStep = _step("KustoStep", "Kusto queries run on Azure Data Explorer only", None)
ModuleStep = _step("ModuleStep", "published Modules are kept by the Azure ML service",
                   _SCRIPT)
MpiStep = _step("MpiStep", "MPI jobs across nodes need Azure compute clusters",
                _SCRIPT + " (it runs one process)")
RScriptStep = _step("RScriptStep", "amlocal runs Python steps only (no R environments)",
                    _SCRIPT + " that calls Rscript in an image with R "
                    "(Environment.from_docker_image)")
SynapseSparkStep = _step("SynapseSparkStep", "Spark jobs run on Azure Synapse only", _SCRIPT)
