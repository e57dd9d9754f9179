"""PortDataReference: the data of a step run's output (``azureml.pipeline.core.run``).

Below ``run``, which hands it out (StepRun.get_output_data) and exports it under Azure's path, so
that the modules freezing a step's inputs can recognise it without importing the run classes.
"""
from __future__ import annotations


class PortDataReference:
    """``PortDataReference(context, pipeline_run_id, data_reference, step_run=None)``: the data
    of a step run's output (``azureml.pipeline.core.PortDataReference``).

    ``download(local_path)`` copies its files to ``local_path/<path_on_datastore>/...`` and
    returns how many were copied, as Azure does. ``as_mount()``, ``as_download()`` and
    ``as_input(name)`` feed it to a step of a later pipeline. ``context`` is the workspace here.
    """

    def __init__(self, context, pipeline_run_id: str, data_reference, step_run=None):
        self._context = context
        self.pipeline_run_id = pipeline_run_id
        self._data_reference = data_reference
        self.data_reference_name = data_reference.data_reference_name
        self._path_on_datastore = data_reference.path_on_datastore
        self._step_run = step_run

    @property
    def name(self) -> str:
        return self.data_reference_name

    @property
    def datastore(self):
        return self._data_reference.datastore

    @property
    def datastore_name(self) -> str:
        return self.datastore.name

    @property
    def path_on_datastore(self) -> str:
        return self._path_on_datastore

    def download(self, local_path: str, overwrite: bool | None = None,
                 show_progress: bool | None = None) -> int:
        """Copy the output's files through its datastore to ``local_path/<path on the
        datastore>/...`` and return how many files were copied. Files that exist locally are
        kept (with a warning) unless ``overwrite``. As on Azure the path is a plain string
        prefix, so an output ``.../out`` also matches ``.../out2/...``."""
        return self.datastore.download(local_path, prefix=self._path_on_datastore,
                                       overwrite=bool(overwrite),
                                       show_progress=True if show_progress is None else show_progress)

    def create_input_binding(self, input_name: str | None = None, mode: str | None = None,
                             path_on_compute: str | None = None, overwrite: bool | None = None):
        """An InputPortBinding feeding this output to a step (mode ``mount`` or ``download``).
        Raises ValueError for another mode."""
        from ._ports import InputPortBinding
        name = input_name or self.data_reference_name
        mode = mode or "mount"
        if mode not in ("mount", "download"):
            raise ValueError(f"Input [{name}] has an invalid mode [{mode}]")
        return InputPortBinding(self, name, mode, path_on_compute, overwrite)

    def as_download(self, input_name: str | None = None, path_on_compute: str | None = None,
                    overwrite: bool | None = None):
        return self.create_input_binding(input_name, "download", path_on_compute, overwrite)

    def as_mount(self, input_name: str | None = None):
        return self.create_input_binding(input_name, "mount")

    def as_input(self, input_name: str):
        return self.create_input_binding(input_name)

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    __repr__ = __str__
