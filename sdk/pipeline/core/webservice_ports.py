"""WebServiceInput and WebServiceOutput: the two ends of a pipeline served as a web service
(Studio's "Web Service Input" and "Web Service Output" modules).

``WebServiceInput(name, example)``: ``example`` is a pandas DataFrame; it fixes the input's
schema (column names and dtypes, used to type request values) and it is the table batch runs
read, like Studio's "Enter Data". Pass it as ``dataframe1=``/``dataframe2=`` of an
ExecutePythonScriptStep. In a batch run it is a table folder: the example written as Parquet into
the content-addressed folder ``AMLOCAL_HOME/generated/webinputs/<sha256>/`` and mounted like any
table folder.

``WebServiceOutput(name, source)``: ``source`` is an ExecutePythonScriptStep's
``result_dataset``. It is listed in the pipeline's steps as a module on a Studio canvas is, but it
is not a step that runs: the frozen graph only records which step's result answers as ``name``.
"""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from ..._files import write_once
from ...errors import UserErrorException

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
WEBINPUTS = ("generated", "webinputs")
EXAMPLE_FILE = "example.parquet"


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(f"{what} name {name!r} is not valid: use letters, digits, '_' "
                                 "and '-', starting with a letter or '_' (e.g. 'input1')")
    return name


class WebServiceInput:
    """``WebServiceInput(name, example)``: a web service's input table.

    Raises UserErrorException for an invalid name or an ``example`` that is not a pandas
    DataFrame with at least one column.
    """

    _is_web_service_input = True

    def __init__(self, name: str, example):
        import pandas as pd
        self.name = _check_name(name, "WebServiceInput")
        if not isinstance(example, pd.DataFrame) or len(example.columns) == 0:
            raise UserErrorException(
                f"WebServiceInput '{name}': example must be a pandas DataFrame with at least one "
                f"column (it fixes the schema and feeds batch runs), got {type(example).__name__}")
        self.example = example.copy()
        self.example.columns = [str(c) for c in self.example.columns]

    @property
    def schema(self) -> dict:
        """``{column: dtype name}`` of the example, e.g. ``{"surface": "int64"}``."""
        return {str(c): str(t) for c, t in self.example.dtypes.items()}

    def _folder(self) -> Path:
        """Write the example as Parquet into its content-addressed folder (once); return it."""
        from ... import _settings
        buffer = io.BytesIO()
        self.example.reset_index(drop=True).to_parquet(buffer, index=False)
        data = buffer.getvalue()
        root = _settings.current().home.joinpath(*WEBINPUTS)
        target = root / hashlib.sha256(data).hexdigest()
        write_once(target, lambda staging: (staging / EXAMPLE_FILE).write_bytes(data))
        return target

    def _consumption(self, port: str):
        """The example folder as a mounted FileDataset input named ``port``; the returned
        consumption config carries ``_web_service_input`` (this object) for the graph."""
        from ...data.file_dataset import FileDataset
        folder = self._folder()
        definition = {"schema_version": 1, "type": "FileDataset",
                      "sources": [{"url": f"file://{folder}/{EXAMPLE_FILE}"}],
                      "partition_format": None, "is_file": False}
        consumed = FileDataset(definition, None).as_named_input(port).as_mount()
        consumed._web_service_input = self
        return consumed

    def __repr__(self) -> str:
        return f"WebServiceInput(name={self.name!r}, schema={self.schema})"


class WebServiceOutput:
    """``WebServiceOutput(name, source)``: answers requests with the table ``source`` (an
    ExecutePythonScriptStep's ``result_dataset``) holds. Listed in ``Pipeline(steps=[...])``;
    it does not run.

    Raises UserErrorException for an invalid name or a ``source`` that is not a step's output.
    """

    _is_web_service_output = True

    def __init__(self, name: str, source):
        self.name = _check_name(name, "WebServiceOutput")
        if getattr(source, "_producer", None) is None or not hasattr(source, "as_input"):
            raise UserErrorException(
                f"WebServiceOutput '{name}': source must be an ExecutePythonScriptStep's "
                f"result_dataset (e.g. source=score.result_dataset), got {source!r}")
        self.source = source

    @property
    def producer(self):
        return self.source._producer

    def __repr__(self) -> str:
        return f"WebServiceOutput(name={self.name!r}, source={self.source.name!r})"


__all__ = ["WebServiceInput", "WebServiceOutput"]
