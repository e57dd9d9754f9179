"""Freezing a DataTransferStep into a ``data_transfer`` node of the frozen graph (plain JSON).

The node has no script, snapshot or environment; its compute is ``{"name": <the Data Factory's
name or "local">, "kind": "host"}`` (it runs in the runner's process). Its one input (a file
source) and one output are entries as every step's; ``node["transfer"]`` says what moves:

- ``source``: ``{"kind": "sql", "datastore", "table", "query"}`` or ``{"kind": "files",
  "input": <input name>}``;
- ``destination``: ``{"kind": "sql", "datastore", "table", "mode": "append" | "replace"}`` or
  ``{"kind": "files", "output": <output name>}`` (a data_reference output is a datastore path,
  the full path of the file or folder: the runner splits it, since a DataPath parameter may
  replace it at submission);
- ``source_reference_type``, ``destination_reference_type`` ('file', 'directory' or None) and
  ``compute_target`` (the name given, or None).

Datastore names only: no URL, no credential is frozen.
"""
from __future__ import annotations

from ...core._freeze_step import (FrozenInput, data_reference_fields, is_output_config,
                                  reference_entries)
from ...data.data_reference import DataReference
from ...data.sql_data_reference import SqlDataReference
from ...errors import UserErrorException
from ..core._freeze_io import parameter_default
from ..core._ports import _PipelineIO


def freeze_transfer(step, *, node_id: str, links, errors: list[str],
                    producers: dict) -> tuple[dict, dict]:
    """``(node, parameters)`` of a DataTransferStep; problems are appended to ``errors``."""
    params: dict = {}
    inputs: list[dict] = []
    depends: set[str] = set()
    source = step._source
    if isinstance(source, SqlDataReference):
        source_spec = {"kind": "sql", "datastore": source.datastore.name,
                       "table": source.sql_table, "query": source.sql_query}
        if source.sql_stored_procedure:
            source_spec["procedure"] = source.sql_stored_procedure
            source_spec["procedure_params"] = source._procedure_params()
    else:
        source_spec = None
        try:
            frozen = _input(source, links, params)
        except UserErrorException as exc:
            errors.append(f"step '{step.name}': {exc}")
        else:
            inputs.append(frozen.entry)
            source_spec = {"kind": "files", "input": frozen.entry["name"]}
            if frozen.produced_by is not None:
                if frozen.produced_by in producers:
                    depends.add(producers[frozen.produced_by])
                else:
                    errors.append(f"step '{step.name}': input '{frozen.produced_by}' is not "
                                  "produced by any step; add it to outputs= of the step that "
                                  "writes it")
    destination = step._destination
    output = step._output
    if isinstance(destination, SqlDataReference):
        destination_spec = {"kind": "sql", "datastore": destination.datastore.name,
                            "table": destination.sql_table, "mode": destination.write_mode}
        out_entry = links.output(output)
    else:
        destination_spec = {"kind": "files", "output": output.name}
        if isinstance(destination, (DataReference, _PipelineIO)):
            out_entry = _path_output(output.name, destination, params)
        elif is_output_config(destination):
            from ...core._freeze_step import _output_config
            out_entry = _output_config(destination)
        else:
            out_entry = links.output(output)
    for ref in (source, destination):
        problem = _missing_datastore(ref)
        if problem:
            errors.append(f"step '{step.name}': {problem}")
    compute = step.compute_name
    node = {
        "id": node_id, "name": step.name, "kind": "data_transfer", "script_name": "",
        "source_directory": None, "snapshot": None, "arguments": [], "params": {},
        "inputs": inputs, "outputs": [out_entry] if out_entry else [],
        "environment": {}, "environment_name": None, "environment_variables": {},
        "compute": {"name": compute or "local", "kind": "host"}, "sandbox": None,
        "allow_reuse": bool(step.allow_reuse), "version": step.version,
        "depends_on": sorted(depends),
        "transfer": {"source": source_spec, "destination": destination_spec,
                     "source_reference_type": step.source_reference_type,
                     "destination_reference_type": step.destination_reference_type,
                     "compute_target": compute}}
    return node, params


def _input(source, links, params: dict) -> FrozenInput:
    """The input entry of a file source (always read, never uploaded: mode download)."""
    frozen = links.input(source, params)
    if frozen is not None and frozen.entry is not None:
        return frozen
    if isinstance(source, DataReference):
        name, datastore, rel, _, _, _ = data_reference_fields(source)
        entry, _ = reference_entries(name, datastore, rel, "download", None, False, None)
        return FrozenInput(entry)
    dataset = getattr(source, "dataset", None)
    if is_output_config(dataset):   # a step's OutputFileDatasetConfig, consumed
        return FrozenInput({"name": source.name, "type": "output", "data": dataset.name,
                            "mode": "mount", "path_on_compute": None}, produced_by=dataset.name)
    raise UserErrorException(f"source {source!r} cannot be transferred; give a DataReference, "
                             "a PipelineData or a step's OutputFileDatasetConfig")


def _path_output(name: str, destination, params: dict) -> dict:
    """The output entry of a datastore-path destination (the full path; see the docstring)."""
    parameter = None
    if isinstance(destination, _PipelineIO):
        path = destination._default()
        datastore, rel = path.datastore_name, path.path_on_datastore
        if destination._datapath_param is not None:
            parameter = destination._datapath_param.name
            params[parameter] = parameter_default(destination._datapath_param)
    else:
        datastore, rel = destination.datastore.name, destination.path_on_datastore
    rel = None if rel in ("/", ".", "./") else rel
    return {"name": name, "kind": "data_reference", "datastore": datastore, "path": rel or "",
            "mode": "upload", "overwrite": True, "path_on_compute": None,
            "parameter": parameter, "registration": None}


def _missing_datastore(ref) -> str | None:
    """Why the datastore a reference names is not registered (any more), or None."""
    store = ref._default()._datastore if isinstance(ref, _PipelineIO) else getattr(
        ref, "datastore", None)
    workspace = getattr(store, "workspace", None)
    lookup = getattr(getattr(workspace, "_store", None), "get_datastore", None)
    if lookup is None or lookup(workspace._id, store.name) is not None:
        return None
    return (f"datastore '{store.name}' is not registered in workspace '{workspace.name}' "
            "(deleted since?); register it again or give another datastore")
