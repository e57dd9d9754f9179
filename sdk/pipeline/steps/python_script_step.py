"""PythonScriptStep: run a Python script from a source directory in the step's environment."""
from __future__ import annotations

import os
from pathlib import Path

from ..core._inputs import _is_consumption as _is_dataset_input
from ..core._inputs import _is_output_config
from ..core.builder import InputPortBinding, PipelineData, PipelineParameter, PipelineStep


class PythonScriptStep(PipelineStep):
    """``PythonScriptStep(script_name, name=None, arguments=None, compute_target=None,
    runconfig=None, runconfig_pipeline_params=None, inputs=None, outputs=None, params=None,
    source_directory=None, allow_reuse=True, version=None, hash_paths=None)``.

    ``inputs`` take PipelineData (or its bindings), datasets' consumption configs, DataReference
    (``ds.path('x').as_mount()``, ``upload_files(...)``'s return value; ``as_upload(path_on_compute)``
    uploads that folder after the step), a previous run's PortDataReference, and
    ``(DataPath or PipelineParameter, DataPathComputeBinding(...))`` tuples. In ``arguments``
    each becomes ``$AZUREML_DATAREFERENCE_<name>``, replaced by its path in the step.

    As on Azure, a PipelineData used in ``arguments`` but listed in neither ``inputs`` nor
    ``outputs``, or a DataReference or DataPath tuple used in ``arguments`` but not in
    ``inputs``, raises ValueError here, at construction; a bare dataset in ``inputs`` or
    ``arguments`` too (call ``as_named_input``). Datasets in arguments, and a PipelineParameter
    whose default is a dataset, are added to the inputs automatically. An input named like an
    output is renamed ``INPUT_<name>`` (its argument follows). ``hash_paths`` is accepted and
    ignored (Azure deprecated it: the whole source directory is snapshotted).

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
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.params = dict(params or {})
        self.source_directory = source_directory
        self.allow_reuse = allow_reuse
        self.version = version
        self.sandbox: dict | None = None
        super().__init__(name or script_name, inputs, outputs, arguments,
                         fix_port_name_collisions=True)

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
