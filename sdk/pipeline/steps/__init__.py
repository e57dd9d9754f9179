"""Pipeline steps, as ``azureml.pipeline.steps``."""
from .execute_python_script_step import ExecutePythonScriptStep
from .python_script_step import PythonScriptStep

__all__ = ["ExecutePythonScriptStep", "PythonScriptStep"]
