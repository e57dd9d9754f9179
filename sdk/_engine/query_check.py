"""Before a run is recorded: every SQL query its steps read (a ``from_sql_query`` dataset, a
DataReference or DataPath on a SQL datastore, with the values submitted for their parameters, a
DataTransferStep's ``SqlDataReference(sql_query=...)``) is
tried on its database (:func:`amlocal.datastores.sql.probe_query`: no row read where the
database allows), so a broken query is named when the pipeline is submitted, before any step's
container starts, rather than when the step reading it comes up after others have run. The
rows themselves are read when each step starts (:mod:`amlocal.datastores.sql_input`)."""
from __future__ import annotations

from ..errors import UserErrorException
from .graph import InputType, RunRequest


def _queries(request: RunRequest):
    """``(node, input name, datastore name, query, timeout)`` for every query the run reads."""
    from amlocal.datastores.sql_input import is_query_definition
    from .plan import _with_datapath
    params = request.parameters
    for node in request.graph.steps:
        source = (node.transfer or {}).get("source") or {}
        if source.get("kind") == "sql" and source.get("query"):   # a DataTransferStep's query
            yield node, "source_data_reference", source.get("datastore"), source["query"], None
        for inp in node.inputs:
            if inp.type is InputType.DATAREFERENCE:
                ref = _with_datapath(inp, params)
                yield node, inp.name, ref.datastore, ref.path_on_datastore, None
            elif inp.type is InputType.DATASET:
                definition = inp.definition
                parameter = params.get(inp.parameter or "")
                if isinstance(parameter, dict) and parameter.get("kind") == "dataset":
                    definition = parameter["definition"]
                if is_query_definition(definition):
                    source = (definition.get("sources") or [{}])[0]
                    timeout = (definition.get("reader") or {}).get("query_timeout")
                    yield node, inp.name, source.get("datastore"), source.get("query"), timeout


def check_queries(store, workspace_id: str, request: RunRequest) -> None:
    """Raise UserErrorException naming the step, the input, the datastore and the database's
    message for the first query of ``request`` that does not run. Inputs on datastores that are
    not SQL ones (or are missing: planning says so), or that a DataTransferStep of the run
    writes to, are left alone."""
    from amlocal.datastores import sql
    # a table the run's own DataTransferSteps write may not exist yet: queries on a datastore
    # the run writes to are tried when their step starts, not now
    written = {((n.transfer or {}).get("destination") or {}).get("datastore")
               for n in request.graph.steps
               if ((n.transfer or {}).get("destination") or {}).get("kind") == "sql"}
    seen = set()
    for node, name, datastore, query, timeout in _queries(request):
        if not datastore or datastore in written or (datastore, query) in seen:
            continue
        info = store.get_datastore(workspace_id, datastore)
        if info is None or not sql.is_sql(info.kind):
            continue
        seen.add((datastore, query))
        try:
            sql.probe_query(info, query, timeout or sql.DEFAULT_TIMEOUT)
        except UserErrorException as exc:
            raise UserErrorException(
                f"step '{node.name}', input '{name}': {exc}. Nothing was run; fix the query "
                "and submit again") from None
