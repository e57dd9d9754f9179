"""PythonScriptStep: run a Python script from a source directory in the step's environment."""
from __future__ import annotations

import os
from pathlib import Path

from ..core.builder import (InputPortBinding, PipelineData, PipelineOutputFileDataset,
                            PipelineParameter)


def _unwrap(obj):
    """``PipelineData.as_dataset()`` (and its ``as_named_input``) consumed directly."""
    return obj._binding() if isinstance(obj, PipelineOutputFileDataset) else obj


def _is_dataset_input(obj) -> bool:
    return hasattr(obj, "arg_val") and hasattr(obj, "dataset") and hasattr(obj, "mode")


def _is_output_config(obj) -> bool:
    return type(obj).__name__ == "OutputFileDatasetConfig"


class PythonScriptStep:
    """``PythonScriptStep(script_name, name=None, arguments=None, compute_target=None,
    runconfig=None, runconfig_pipeline_params=None, inputs=None, outputs=None, params=None,
    source_directory=None, allow_reuse=True, version=None, hash_paths=None)``.

    As on Azure, a PipelineData used in ``arguments`` but listed in neither ``inputs`` nor
    ``outputs`` raises ValueError here, at construction; datasets in arguments are added to the
    inputs automatically. ``hash_paths`` is accepted and ignored (Azure deprecated it: the whole
    source directory is snapshotted).

    ``sandbox`` (amlocal addition, not a constructor argument): None runs the step as its run
    configuration says (``runconfig.docker.sandbox``); a dict such as ``{"network": False}``
    sandboxes it regardless (``ExecutePythonScriptStep`` sets it). Memory and CPU limits still
    come from ``runconfig.docker.arguments``; the dict's own keys win.
    """

    def __init__(self, script_name: str, name: str | None = None, arguments=None,
                 compute_target=None, runconfig=None, runconfig_pipeline_params=None,
                 inputs=None, outputs=None, params=None, source_directory: str | None = None,
                 allow_reuse: bool = True, version: str | None = None, hash_paths=None):
        self.script_name = script_name
        self.name = name or script_name
        self.arguments = [_unwrap(a) for a in arguments or []]
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.inputs = [_unwrap(i) for i in inputs or []]
        self.outputs = [o._data if isinstance(o, PipelineOutputFileDataset) else o
                        for o in outputs or []]
        self.params = dict(params or {})
        self.source_directory = source_directory
        self.allow_reuse = allow_reuse
        self.version = version
        self._run_after: list = []
        self.sandbox: dict | None = None
        self._check_arguments()
        for output in self.outputs:  # lets Pipeline(resolve_closure=True) find this step
            if isinstance(output, PipelineData) or _is_output_config(output):
                output._producer = self

    def _check_arguments(self) -> None:
        declared = {id(o) for o in self.outputs}
        declared |= {id(i.bind_object if isinstance(i, InputPortBinding) else i) for i in self.inputs}
        for arg in self.arguments:
            if getattr(arg, "_dataset_like", False) and not any(arg is i for i in self.inputs):
                self.inputs.append(arg)  # PipelineData.as_dataset() in arguments, as on Azure
                declared.add(id(arg.bind_object))
            target = arg.bind_object if isinstance(arg, InputPortBinding) else arg
            if isinstance(target, PipelineData) and id(target) not in declared:
                raise ValueError(
                    f"step '{self.name}': PipelineData '{target.name}' is used in arguments but is "
                    "in neither inputs= nor outputs=; add it to outputs= of the step that writes "
                    "it and inputs= of the steps that read it")
            if _is_dataset_input(arg) and not any(arg is i for i in self.inputs):
                self.inputs.append(arg)
            if _is_output_config(arg) and not any(arg is o for o in self.outputs):
                self.outputs.append(arg)

    def run_after(self, step) -> None:
        """Run this step only after ``step`` has finished."""
        self._run_after.append(step)

    # -- freezing ---------------------------------------------------------------------------
    def _source_dir(self, default_source_directory: str | None) -> Path:
        return Path(self.source_directory or default_source_directory or os.getcwd()).resolve()

    def _parameters(self) -> list[PipelineParameter]:
        found = [a for a in self.arguments if isinstance(a, PipelineParameter)]
        found += [v for v in self.params.values() if isinstance(v, PipelineParameter)]
        return found

    def _data_inputs(self) -> list:
        """Inputs produced by other steps: PipelineData (or its bindings) and the outputs of
        other steps fed in with ``as_input()``."""
        return [i for i in self.inputs if isinstance(i, (PipelineData, InputPortBinding))
                or _is_output_config(getattr(i, "dataset", None))]

    def _dataset_inputs(self) -> list:
        return [i for i in self.inputs if _is_dataset_input(i)]

    def __repr__(self) -> str:
        return f"PythonScriptStep(name={self.name!r}, script_name={self.script_name!r})"
