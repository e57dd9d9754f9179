"""A SQL query as a step input: the host runs it when the step starts and binds the rows as a
read-only Parquet file, so the step never sees the database or its credentials.

- :func:`bind_query_input`: a TabularDataset read by a query (``from_sql_query``) in direct
  mode. The step gets the definition of a Parquet TabularDataset over the bound file, with the
  dataset's ``set_column_types`` and transformations, plus ``"sql_sources"`` (the query source)
  so that the same dataset fetched by name in the step finds the copy; ``run.input_datasets``
  reads it like any tabular input.
- :func:`bind_query_reference`: a DataReference / DataPath (or a PipelineParameter of a
  DataPath) on a SQL datastore, whose path is the query: the file ``query.parquet`` in a
  read-only folder, and the step's value is that file's path.

Reuse key (``content_digest``): :func:`.sql.query_digest` (datastore name, URL without
password, query) and the digest of the rows the query answered now (the query runs at every
step start anyway): a step is reused only when its query answers the same rows. With the
definition's ``"cache_result"`` (the dataset's ``_amlocal_cache_result = True``) the rows are left
out: a previous result of the same query is reused even if the table changed since.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

from amlocal._mount import Mount
from amlocal.errors import UserErrorException

from . import sql
from .materialize import STEP_DEFINITION, InputBinding, bind_input
from .paths import definition_id
from .transfer import remove_tree

RESULT_FILE = "query.parquet"


def is_query_definition(definition) -> bool:
    """Whether a dataset definition is read by a SQL query (``from_sql_query``)."""
    return isinstance(definition, dict) and \
        (definition.get("reader") or {}).get("format") == "sql"


def _sql_info(datastore_info: Callable, name: str, what: str):
    info = datastore_info(name)
    if not sql.is_sql(getattr(info, "kind", None)):
        raise UserErrorException(f"{what}: datastore '{name}' is not a SQL datastore (its type "
                                 f"is {getattr(info, 'kind', '?')!r}), so it cannot run a query")
    return info


def _run(info, query: str, timeout, folder: Path, what: str):
    """Run ``query`` into ``folder/query.parquet``; answer the frame. Errors name ``what``."""
    remove_tree(folder)
    folder.mkdir(parents=True)
    try:
        frame = sql.read_query(info, query, timeout)
    except UserErrorException as exc:
        raise UserErrorException(f"{what}: {exc}") from None
    sql.write_parquet(frame, folder / RESULT_FILE)
    return frame


def _digest(info, query: str, frame, with_result: bool) -> str:
    digest = f"sql:{sql.query_digest(info, query)}"
    return f"{digest}:{sql.frame_digest(frame)}" if with_result else digest


def bind_query_input(definition: dict, name: str, mode: str, datastore_info: Callable,
                     staging_dir: Path) -> InputBinding:
    """Bind input ``name`` read by a SQL query (see the module docstring).

    ``datastore_info(name)`` answers the stored datastore (with its password: it stays on the
    host). Raises UserErrorException, naming the input, the datastore and the database's
    message, for a broken query, a refused connection, a timeout, or a mode other than direct.
    """
    kind = definition.get("type", "TabularDataset")
    if (mode or "direct").lower() != "direct":
        raise UserErrorException(
            f"input '{name}': {kind} does not support {mode}. Only FileDataset supports {mode}")
    sources = definition.get("sources") or []
    if len(sources) != 1 or "query" not in sources[0]:
        raise UserErrorException(f"input '{name}': a SQL dataset has exactly one query source")
    source = sources[0]
    reader = definition.get("reader") or {}
    what = f"input '{name}'"
    info = _sql_info(datastore_info, source["datastore"], what)
    folder = Path(staging_dir) / f"{name}-query"
    frame = _run(info, source["query"], reader.get("query_timeout") or sql.DEFAULT_TIMEOUT,
                 folder, what)
    table_reader = {k: v for k, v in reader.items()
                    if k not in ("format", "query_timeout", "cache_result")}
    table = {**{k: v for k, v in definition.items() if k not in ("bound", "registered")},
             "sources": [{"url": (folder / RESULT_FILE).resolve().as_uri()}],
             "reader": {**table_reader, "format": "parquet"}}

    def no_datastore(store: str):
        raise UserErrorException(f"{what}: the query's rows are read from a file")

    binding = bind_input(table, name, "direct", None, no_datastore, staging_dir)
    step = json.loads(binding.step_definition)
    step["sql_sources"] = sources
    if isinstance(definition.get("registered"), dict):
        step["registered"] = definition["registered"]
    step_definition = json.dumps(step)
    dataset_id = definition_id({k: v for k, v in definition.items() if k != "bound"})
    env = {**binding.env, name: dataset_id, name.upper(): dataset_id,
           f"AZUREML_DATAREFERENCE_{name}": dataset_id, f"AZURE_ML_INPUT_{name}": dataset_id,
           f"{STEP_DEFINITION}{name}": step_definition}
    digest = _digest(info, source["query"], frame,
                     not reader.get("cache_result"))
    registered = definition.get("registered")
    return replace(binding, value=dataset_id, env=env, content_digest=digest,
                   dataset_id=dataset_id, step_definition=step_definition,
                   registered=dict(registered) if isinstance(registered, dict) else None)


def bind_query_reference(datastore_info: Callable, datastore: str, query: str, label: str,
                         location: str, staging_dir: Path,
                         timeout=sql.DEFAULT_TIMEOUT) -> tuple[Mount, str, str]:
    """A data reference whose datastore is SQL: ``(read-only mount of the result's folder at
    location, the step's value: the Parquet file's path, the reuse digest)``."""
    what = f"data reference '{label}'"
    info = _sql_info(datastore_info, datastore, what)
    folder = Path(staging_dir) / f"{label}-query"
    frame = _run(info, query or "", timeout, folder, what)
    value = f"{location.rstrip('/')}/{RESULT_FILE}"
    return (Mount(str(folder.resolve()), location, True), value,
            _digest(info, query or "", frame, True))
