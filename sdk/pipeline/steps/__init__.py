"""Pipeline steps, as ``azureml.pipeline.steps``."""
from .python_script_step import PythonScriptStep

__all__ = ["PythonScriptStep"]
