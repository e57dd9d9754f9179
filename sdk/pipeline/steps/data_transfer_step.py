"""DataTransferStep: copy data between datastores and SQL databases, as a pipeline step.

On Azure the step runs in Azure Data Factory. amlocal runs it on THIS machine, in the pipeline
runner's process, with no container (the database credentials stay on the host; the step never
exposes them to any container, log or environment). It is a step run of the pipeline run like any
other: a status, log lines saying what was moved (rows, files), reuse, ``get_output()`` feeding
later steps. ``compute_target`` (a DataFactoryCompute or its name) is accepted and not used: the
step's log says so once.

What it moves (``amlocal._engine.data_transfer`` runs it):

============================================  ============================================
source_data_reference                         destination_data_reference
============================================  ============================================
files: a DataReference / DataPath tuple       a SqlDataReference(sql_table=...): the files
(datastore path), a PipelineData (or its      are read as one table (.parquet files, else
binding), an OutputFileDatasetConfig (a       .csv/.tsv files, in path order) and written
step's output: ExecutePythonScriptStep's      to the table (append by default, see below)
``result_dataset`` included), a
PortDataReference
files (as above)                              a datastore path (DataReference, DataPath
                                              tuple), a PipelineData or an
                                              OutputFileDatasetConfig: the files are copied
                                              (a destination file named .csv/.tsv/.parquet
                                              gets the source's rows in that format when
                                              the source is another format or several
                                              files)
a SqlDataReference (sql_query, sql_table     a datastore path or PipelineData /
read whole, or sql_stored_procedure: the      OutputFileDatasetConfig: the rows as one file:
rows of its result set)
                                              the destination's name decides the format
                                              (``.csv``, ``.tsv``, ``.parquet``); a folder
                                              (or destination_reference_type='directory')
                                              gets ``data.parquet``
a SqlDataReference                            a SqlDataReference(sql_table=...): the rows
                                              are written to the table
============================================  ============================================

Choices where Azure is silent or different (deliberate differences):

- Writing a table appends (Data Factory's copy activity inserts into an existing table); the
  table is created when missing. ``SqlDataReference(..., write_mode='replace')`` (amlocal
  addition) drops and recreates it from the data's types. Types are mapped and a data column
  that does not fit the existing table is an error naming the column, before any row is written
  (``amlocal.datastores.sql_types`` has the table).
- ``get_output()`` is the destination: for a datastore path, that path (a folder: the file's
  folder when the destination names a file); for a PipelineData / OutputFileDatasetConfig
  destination, that object; for a SQL table, a PipelineData
  (``<step name>_data_transfer_output``) holding ``transfer.json`` (table, rows written).
  Azure names the output ``_data_transfer_output``; amlocal's outputs are named across the
  pipeline, so the step's name is put in front.
- Reuse: the key holds the source's content digest (files) and the destination. A SQL source is
  read afresh every run and never reused (a database changes under the same query); neither is
  a step with ``allow_reuse=False``. A reused step writes nothing (as on Azure).
- A stored procedure source (``sql_stored_procedure`` with ``sql_stored_procedure_params``, a
  list of ``StoredProcedureParameter``) is called with its parameters bound by name and its
  result set is the source's rows (``amlocal.datastores.sql.procedure_call`` has each
  database's call; on PostgreSQL it is a function returning rows). A stored procedure as the
  destination (Data Factory's table-type sink) is refused at construction: give
  ``sql_table``. A dataset source (``Dataset.Tabular...``) is refused too: give its path (a
  DataReference) or use a step.
- ``compute_target`` may be None.
- ``destination_reference_type`` decides whether a datastore-path destination is a file or a
  folder ('file', 'directory'); without it a name ending ``.csv``/``.tsv``/``.parquet`` (or, for
  a single source file, any extension) is a file, anything else a folder.
  ``source_reference_type`` is checked and kept: the source path's own kind (a file or a folder
  of that name) decides locally.
"""
from __future__ import annotations

import re

from ...core._freeze_step import is_output_config
from ...data.data_reference import DataReference
from ...data.sql_data_reference import SqlDataReference
from ...errors import UserErrorException
from ..core._inputs import _is_consumption, _is_output_config
from ..core.builder import InputPortBinding, PipelineData, PipelineStep
from ..core._ports import _PipelineIO
from ..core._port_data import PortDataReference

KIND = "data_transfer"
REFERENCE_TYPES = ("file", "directory")
TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
FOLDER_FILE = "data.parquet"


def _check_reference_type(name: str, value):
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in REFERENCE_TYPES:
        raise ValueError(f"Unknown value provided for {name}: {value!r}. Possible values "
                         "include: file, directory.")
    return value.lower()


def _compute_name(compute_target) -> str | None:
    if compute_target is None or isinstance(compute_target, str):
        return compute_target
    name = getattr(compute_target, "name", None)
    if not isinstance(name, str):
        raise ValueError("compute_target is not specified correctly: give a DataFactoryCompute "
                         "or its name (it is not used locally)")
    return name


def _safe(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return safe if re.match(r"^[A-Za-z_]", safe) else f"_{safe}"


class DataTransferStep(PipelineStep):
    """``DataTransferStep(name, source_data_reference=None, destination_data_reference=None,
    compute_target=None, source_reference_type=None, destination_reference_type=None,
    allow_reuse=True)``: see the module docstring for what moves where and how.

    Raises ValueError as Azure does (no name, no source or destination, a reference type other
    than 'file'/'directory') and UserErrorException naming the fix for a source or destination
    amlocal cannot transfer (a stored procedure, a dataset, a query as destination, a SQL
    reference to a datastore that is not a database).
    """

    def __init__(self, name, source_data_reference=None, destination_data_reference=None,
                 compute_target=None, source_reference_type=None,
                 destination_reference_type=None, allow_reuse=True):
        if name is None:
            raise ValueError("name is required")
        if not isinstance(name, str):
            raise ValueError("name must be a string")
        if source_data_reference is None:
            raise ValueError("source_data_reference is required")
        if destination_data_reference is None:
            raise ValueError("destination_data_reference is required")
        self.source_reference_type = _check_reference_type("source_reference_type",
                                                           source_reference_type)
        self.destination_reference_type = _check_reference_type("destination_reference_type",
                                                                destination_reference_type)
        self.compute_target = compute_target
        self.compute_name = _compute_name(compute_target)
        self.allow_reuse = bool(allow_reuse)
        self.version = None
        if isinstance(source_data_reference, tuple):
            source_data_reference = _PipelineIO.create(source_data_reference)
        if isinstance(destination_data_reference, tuple):
            destination_data_reference = _PipelineIO.create(destination_data_reference)
        self._source = _source(name, source_data_reference)
        self._destination = _destination(name, destination_data_reference)
        if isinstance(self._destination, (PipelineData,)) or _is_output_config(self._destination):
            output = self._destination
        else:
            store = None if isinstance(self._destination, SqlDataReference) else _store_of(
                self._destination)
            output = PipelineData(f"{_safe(name)}_data_transfer_output", datastore=store)
        self._output = output
        inputs = [] if isinstance(self._source, SqlDataReference) else [self._source]
        super().__init__(name, inputs=inputs, outputs=[output])
        if inputs:   # the processed input (an output config becomes its as_input())
            self._source = self.inputs[0]

    # -- Azure's API --------------------------------------------------------------------------
    def get_output(self):
        """The output of the step (a PipelineData, or the destination's own PipelineData /
        OutputFileDatasetConfig): give it to a later step's inputs to run that step after the
        transfer, reading what was transferred."""
        return self._output

    def create_node(self, graph, default_datastore, context):
        """Azure builds its service graph here; amlocal freezes the step itself. Raises
        UserErrorException."""
        return super().create_node(graph, default_datastore, context)

    # -- freezing -----------------------------------------------------------------------------
    def _data_inputs(self) -> list:
        return [i for i in self.inputs if isinstance(i, (PipelineData, InputPortBinding))
                or is_output_config(getattr(i, "dataset", None))]

    def _freeze_node(self, *, node_id: str, links, errors: list[str],
                     producers: dict) -> tuple[dict, dict]:
        """``(node, parameters)``: this step as a ``data_transfer`` node of the frozen graph."""
        from ._data_transfer_freeze import freeze_transfer
        return freeze_transfer(self, node_id=node_id, links=links, errors=errors,
                               producers=producers)

    def __repr__(self) -> str:
        return f"DataTransferStep(name={self.name!r})"


def _store_of(destination):
    """The datastore (object or name) of a datastore-path destination."""
    if isinstance(destination, _PipelineIO):
        return destination._default().datastore_name
    return destination.datastore


def _source(step: str, source):
    """The source as kept: a SqlDataReference, or an input the step's inputs take."""
    from ..core.pipeline_output_dataset import PipelineOutputAbstractDataset
    if isinstance(source, InputPortBinding) and isinstance(source.bind_object, SqlDataReference):
        source = source.bind_object
    if isinstance(source, SqlDataReference):
        return source
    _not_a_database(step, source, "source_data_reference", "SqlDataReference(ds, sql_query=...)")
    if is_output_config(source):   # a step's output (read_delimited_files() too): consumed
        return source.as_input()
    if isinstance(source, (DataReference, PipelineData, InputPortBinding, _PipelineIO,
                           PortDataReference)):
        return source
    if _is_consumption(source) and is_output_config(getattr(source, "dataset", None)):
        return source
    if isinstance(source, PipelineOutputAbstractDataset):
        return source._binding()     # PipelineData.as_dataset()
    if type(source).__name__ in ("FileDataset", "TabularDataset") or _is_consumption(source):
        raise UserErrorException(
            f"DataTransferStep '{step}': a dataset ({type(source).__name__}) is not a transfer "
            "source locally; give its files as a DataReference (datastore.path('folder')) or a "
            "(DataPath, DataPathComputeBinding()) tuple, or its query as a SqlDataReference")
    raise UserErrorException(
        f"DataTransferStep '{step}': source_data_reference {source!r} is not supported; give a "
        "SqlDataReference, a DataReference (datastore.path('...')), a (DataPath, "
        "DataPathComputeBinding()) tuple, a PipelineData or a step's OutputFileDatasetConfig")


def _destination(step: str, destination):
    """The destination as kept: a SqlDataReference with a table, a DataReference or DataPath
    (a datastore path), a PipelineData or an OutputFileDatasetConfig."""
    if isinstance(destination, InputPortBinding):
        destination = destination.bind_object
    if isinstance(destination, SqlDataReference):
        if not destination.sql_table:
            raise UserErrorException(
                f"DataTransferStep '{step}': the destination SqlDataReference has no sql_table "
                "(a query or a stored procedure cannot be written to); give "
                "SqlDataReference(ds, sql_table='name')")
        return destination
    _not_a_database(step, destination, "destination_data_reference",
                    "SqlDataReference(ds, sql_table=...)")
    if isinstance(destination, (DataReference, PipelineData, _PipelineIO)) \
            or _is_output_config(destination):
        return destination
    raise UserErrorException(
        f"DataTransferStep '{step}': destination_data_reference {destination!r} is not "
        "supported; give a SqlDataReference(ds, sql_table=...), a DataReference "
        "(datastore.path('folder/file.csv')), a (DataPath, DataPathComputeBinding()) tuple, a "
        "PipelineData or an OutputFileDatasetConfig")


def _not_a_database(step: str, ref, what: str, fix: str) -> None:
    """A plain DataReference / DataPath naming a SQL datastore: say to use a SqlDataReference."""
    from ...data.sql_data_reference import is_sql_datastore
    store = ref.datastore if isinstance(ref, DataReference) else (
        ref._default()._datastore if isinstance(ref, _PipelineIO) else None)
    if store is not None and not isinstance(store, str) and is_sql_datastore(store):
        raise UserErrorException(
            f"DataTransferStep '{step}': {what} names SQL datastore '{store.name}' as a path; "
            f"a database is given as {fix}")
