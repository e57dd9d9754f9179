"""Pipeline steps, as ``azureml.pipeline.steps``. The steps only Azure can run (``_cloud``)
import and raise CloudOnlyError when used."""
from ._cloud import (AdlaStep, AutoMLStep, AutoMLStepRun, AzureBatchStep, CommandStep,
                     DatabricksStep, EstimatorStep, HyperDriveStep,
                     HyperDriveStepRun, KustoStep, ModuleStep, MpiStep, RScriptStep,
                     SynapseSparkStep)
from .apply_sql_transformation_step import ApplySqlTransformationStep
from .data_transfer_step import DataTransferStep
from .execute_python_script_step import ExecutePythonScriptStep
from .parallel_run_config import ParallelRunConfig
from .parallel_run_step import ParallelRunStep
from .python_script_step import PythonScriptStep

__all__ = ["AdlaStep", "ApplySqlTransformationStep",
           "AutoMLStep", "AutoMLStepRun", "AzureBatchStep", "CommandStep",
           "DataTransferStep", "DatabricksStep", "EstimatorStep", "ExecutePythonScriptStep",
           "HyperDriveStep", "HyperDriveStepRun", "KustoStep", "ModuleStep", "MpiStep",
           "ParallelRunConfig", "ParallelRunStep", "PythonScriptStep", "RScriptStep", "SynapseSparkStep"]
