"""TabularDatasets read by a SQL query (``Dataset.Tabular.from_sql_query``).

The definition is a TabularDataset's, with one source ``{"datastore": NAME, "query": SQL}`` and
the reader ``{"format": "sql", "query_timeout": SECONDS, "set_column_types": {...}}``; it names
the datastore, never its URL or password.

- On the host ``to_pandas_dataframe()`` runs the query (:func:`amlocal.datastores.sql.read_query`)
  then applies ``set_column_types`` and the dataset's transformations (``take``, ``filter`` ...).
- As a step input (``as_named_input(name)``, direct mode) the host runs the query when the step
  starts and the step gets the rows as a Parquet file, read as a TabularDataset with the same
  types and transformations (:mod:`amlocal.datastores.sql_input`): the step never sees the
  database or its credentials, sandboxed steps included.
- Inside a step, a SQL dataset that is one of the step's inputs (``Dataset.get_by_name`` of it)
  reads that Parquet copy; any other SQL dataset raises, naming the fix (pass it as an input).

Reuse: the host runs a step's queries every time the step starts (a result is never cached
across runs by default: a database changes under the same query), and the step's reuse key holds
the datastore (name and URL without password), the query text and the digest of the rows it
answered: the step is reused only when the same query answers the same rows. Opt in to caching
with ``dataset._amlocal_cache_result = True`` (amlocal's addition): the rows leave the key, and a
previous result of the same query is reused even when the table changed since.
"""
from __future__ import annotations

import json
import os
from pathlib import PurePath

from ..errors import NotFoundError, UserErrorException
from .abstract_dataset import _STEP_DEFINITION

SQL_FORMAT = "sql"
_INVALID = ("Invalid argument value or type: from_sql_query takes (datastore, 'SELECT ...') or "
            "DataPath(datastore, 'SELECT ...') with a SQL datastore (Datastore."
            "register_azure_sql_database / register_azure_postgre_sql / register_azure_my_sql / "
            "register_sql)")


def is_query_definition(definition) -> bool:
    """Whether a dataset definition is read by a SQL query."""
    return isinstance(definition, dict) and \
        (definition.get("reader") or {}).get("format") == SQL_FORMAT


def store_and_query(query):
    """``(datastore, query text)`` of Azure's ``query`` argument: a ``(datastore, str)`` tuple,
    a DataPath or a DataReference. Raises UserErrorException."""
    from .data_reference import DataReference
    from .datapath import DataPath
    if isinstance(query, tuple):
        if len(query) == 2 and hasattr(query[0], "_info") and isinstance(query[1], str):
            datastore, text = query
        else:
            raise UserErrorException(
                "Invalid tuple for path. Please make sure the tuple consists of a datastore and "
                "a path/SQL query")
    elif isinstance(query, DataPath):
        datastore, text = query._datastore, query.path_on_datastore
    elif isinstance(query, DataReference):
        datastore, text = query.datastore, query.path_on_datastore
    else:
        raise UserErrorException(_INVALID)
    from amlocal.datastores.sql import is_sql
    if not is_sql(getattr(getattr(datastore, "_info", None), "kind", None)):
        raise UserErrorException(
            f"datastore '{getattr(datastore, 'name', datastore)}' is not a SQL datastore "
            f"(its type is {getattr(datastore, 'datastore_type', '?')!r}). " + _INVALID)
    if isinstance(text, PurePath) or not isinstance(text, str) or not text.strip():
        raise UserErrorException(
            f"the SQL query for datastore '{datastore.name}' is empty: give e.g. "
            "(datastore, 'SELECT * FROM my_table')")
    return datastore, text.strip()


def check_timeout(query_timeout) -> int:
    if isinstance(query_timeout, bool) or not isinstance(query_timeout, (int, float)) \
            or query_timeout <= 0:
        raise UserErrorException(f"query_timeout must be a positive number of seconds, not "
                                 f"{query_timeout!r}")
    return int(query_timeout) if float(query_timeout).is_integer() else query_timeout


def sql_definition(datastore_name: str, query: str, column_types: dict, query_timeout) -> dict:
    """The definition of a dataset read by ``query`` on ``datastore_name``."""
    return {"schema_version": 1, "type": "TabularDataset",
            "sources": [{"datastore": datastore_name, "query": query}],
            "reader": {"format": SQL_FORMAT, "query_timeout": check_timeout(query_timeout),
                       "set_column_types": column_types},
            "partition_format": None, "transforms": []}


def _source(dataset) -> dict:
    return dataset._definition["sources"][0]


def _info(dataset):
    """The datastore's stored info (host side). Raises NotFoundError / UserErrorException."""
    from amlocal.datastores.sql import is_sql
    source = _source(dataset)
    workspace = dataset._workspace
    if workspace is None:
        raise UserErrorException(
            f"this dataset reads SQL datastore '{source['datastore']}' but is not bound to a "
            "workspace; rebuild it with Dataset.Tabular.from_sql_query((datastore, query))")
    info = workspace._store.get_datastore(workspace._id, source["datastore"])
    if info is None:
        raise NotFoundError(
            f"the dataset reads datastore '{source['datastore']}', which workspace "
            f"'{workspace.name}' does not have; register it first")
    if not is_sql(info.kind):
        raise UserErrorException(
            f"datastore '{info.name}' is no longer a SQL datastore (its type is {info.kind!r}); "
            "the dataset's query cannot run on it")
    return info


def read_frame(dataset):
    """The rows of the dataset's query, before ``set_column_types`` and transformations."""
    from .. import _context
    if _context.job_context() is not None:
        return _step_copy(dataset)
    from amlocal.datastores.sql import read_query
    reader = dataset._definition.get("reader") or {}
    return read_query(_info(dataset), _source(dataset)["query"],
                      reader.get("query_timeout") or 30)


def validate(dataset) -> None:
    """Run the query (no rows are read back); raise UserErrorException in Azure's words, with
    the datastore and the database's message."""
    from amlocal.datastores.sql import check_query
    reader = dataset._definition.get("reader") or {}
    query = _source(dataset)["query"]
    try:
        check_query(_info(dataset), query, reader.get("query_timeout") or 30)
    except UserErrorException as exc:
        raise UserErrorException(
            f'Cannot load any data from the datastore using the SQL query "{query}". Please '
            f"make sure the datastore and query is correct. {exc} (pass validate=False to "
            "create the dataset anyway)") from None


def _step_copy(dataset):
    """Inside a step: the Parquet rows the host wrote for a step input over the same query."""
    sources = dataset._definition["sources"]
    for key, text in sorted(os.environ.items()):
        if not key.startswith(_STEP_DEFINITION):
            continue
        try:
            other = json.loads(text)
        except ValueError:
            continue
        if isinstance(other, dict) and other.get("sql_sources") == sources and other.get("bound"):
            raw = {"schema_version": 1, "type": "TabularDataset", "sources": other["sources"],
                   "bound": other["bound"], "reader": {"format": "parquet"},
                   "partition_format": None, "transforms": []}
            return type(dataset)(raw, None).to_pandas_dataframe()
    raise UserErrorException(
        f"this step reads the SQL query of datastore '{sources[0]['datastore']}', which is not "
        "one of its inputs; steps never reach a database themselves: pass the dataset to the "
        "step, e.g. inputs=[dataset.as_named_input('rows')], and read "
        "Run.get_context().input_datasets['rows']")


def cache_result(dataset) -> bool:
    return bool((dataset._definition.get("reader") or {}).get("cache_result"))


def set_cache_result(dataset, value) -> None:
    reader = dataset._definition.setdefault("reader", {})
    if value:
        reader["cache_result"] = True
    else:
        reader.pop("cache_result", None)
