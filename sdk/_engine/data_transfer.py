"""Running a DataTransferStep (a ``data_transfer`` node) on the host, in the pipeline runner.

No container starts: the runner reads the source and writes the destination itself, with the
datastores' credentials, which therefore never reach a step's container, environment or log
(messages name datastores, never URLs; the SQL layer masks passwords in database errors). What
moves where is the node's ``transfer`` entry (``amlocal.pipeline.steps._data_transfer_freeze``);
the step's docstring (``amlocal.pipeline.steps.data_transfer_step``) says what each pair does.

The step run behaves as any other: Preparing, Running, Finished/Failed; lines in its log and the
pipeline log saying what was read and written (rows, files); a reuse record; its output handed
to later steps. Reuse: the key's components are the transfer (datastore names, table, query,
destination), the source files' content digest and the outputs; a SQL source is never reused
(the database may change under the same query), nor is ``allow_reuse=False``.

Tables read from files: the ``.parquet`` files of the source, else its ``.csv`` / ``.tsv`` /
``.txt`` files (``.tsv`` split at tabs), in path order, concatenated. SQL reads time out after
:data:`QUERY_TIMEOUT` seconds.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path, PurePosixPath

from .._status import RECORDED_PROPERTY, STD_LOG, RunStatus
from ..errors import UserErrorException
from ..store.entities import utcnow
from .graph import InputType, Node, NodeOutput, OutputKind
from .outputs import OutputLocation, folder_digest, locate_output, register_output, require_output

QUERY_TIMEOUT = 600
TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
FOLDER_FILE = "data.parquet"
SUMMARY_FILE = "transfer.json"


@dataclasses.dataclass(frozen=True)
class Source:
    """What a transfer reads: a table (SQL) or files (host paths, with names relative to the
    source's folder)."""

    shown: str
    digest: str
    sql: tuple | None = None             # (datastore info, query, bound parameters or None)
    files: tuple = ()                    # ((host path, relative name), ...)
    single_file: bool = False


def run_transfer(runner, node: Node) -> bool:
    """Run one data_transfer node as its step run; answer whether it succeeded."""
    step = runner.step_runs[node.id]
    staging = runner.work / f"{step.id}-transfer"

    def say(text: str) -> None:
        runner.store.append_artifact(step.id, STD_LOG, f"{text}\n".encode("utf-8", "replace"))
        runner.log(node.name, text)

    try:
        runner._check_canceled()
        runner._set_status(step.id, RunStatus.PREPARING, started_at=utcnow())
        runner.store.add_properties(step.id, {RECORDED_PROPERTY: "true",
                                              "amlocal.step_kind": "data_transfer"})
        spec = node.transfer or {}
        if spec.get("compute_target"):
            say(f"compute_target '{spec['compute_target']}' (Azure Data Factory) is not used "
                "locally: the transfer runs on this machine, in the pipeline runner")
        source = _source(runner, node, spec.get("source") or {}, staging / "source")
        components = _components(node, spec, source, runner.params)
        record = _decide(runner, step, node, components, sql_source=source.sql is not None)
        definition = {**step.definition, "script": None, "arguments": [], "inputDatasets": [],
                      "compute": {"name": node.compute.name, "kind": node.compute.kind},
                      "environment": None, "reuse": record,
                      "transfer": {"source": source.shown}}
        if record["decision"] == "reused" and runner._reuse(node, step, record, definition):
            return True
        say(f"running: {record['reason']}")
        runner._set_status(step.id, RunStatus.RUNNING)
        runner._check_canceled()
        out, location, written = _write(runner, node, step, spec, source, staging, say)
        if out is not None:
            if location.local is not None:
                location = dataclasses.replace(location, digest=folder_digest(location.local))
            runner.outputs[out.name] = location
            definition["outputs"] = {out.name: location.to_dict()}
            registered = register_output(runner.store, runner.workspace.id, out, location)
            if registered:
                definition["registeredDatasets"] = [registered]
        definition["transfer"]["destination"] = written
        runner.store.update_run(step.id, reuse_key=record["key"], definition=definition)
        return runner._step_ended(node)
    except BaseException as exc:
        return runner._step_failed(node, step.id, exc, "transferring")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# -- reuse --------------------------------------------------------------------------------------
def _components(node: Node, spec: dict, source: Source, params: dict) -> dict:
    used = {o.parameter: params.get(o.parameter) for o in node.outputs if o.parameter}
    used.update({i.parameter: params.get(i.parameter) for i in node.inputs if i.parameter})
    what = dict(spec)
    if (what.get("source") or {}).get("kind") == "files":   # its name may be random: not a change
        what["source"] = {"kind": "files"}
    return {"environment": None, "source": None, "script": "DataTransferStep",
            "arguments": [json.dumps(what, sort_keys=True, default=str)],
            "parameters": {k: json.dumps(v, sort_keys=True, default=str) for k, v in used.items()},
            "inputs": {"source": source.digest},
            "outputs": {o.name: [o.datastore, o.path, o.mode] for o in node.outputs},
            "sandbox": None, "version": node.version}


def _decide(runner, step, node: Node, components: dict, *, sql_source: bool) -> dict:
    from .reuse import decide, reuse_key
    if sql_source and not runner.regenerate and node.allow_reuse:
        return {"key": reuse_key(components), "components": components, "decision": "ran",
                "reused_from": None, "changed": [], "compared_with": None,
                "reason": "the source is a SQL table or query, read afresh on every run (a "
                          "database changes under the same query)"}
    return decide(runner.store, step, node, components, regenerate=runner.regenerate)


# -- the source ---------------------------------------------------------------------------------
def _sql_info(runner, name: str):
    from amlocal.datastores.sql import is_sql
    info = runner._datastore_info(name)
    if not is_sql(info.kind):
        raise UserErrorException(
            f"datastore '{name}' is a {info.kind} datastore, not a SQL database; a "
            "SqlDataReference needs a datastore registered with register_azure_postgre_sql / "
            "register_azure_sql_database / register_azure_my_sql / register_sql")
    return info


def select_all(info, table: str) -> str:
    """``SELECT * FROM <table>`` with the table name quoted for the datastore's database."""
    import sqlalchemy as sa
    from amlocal.datastores.sql import sql_url
    from amlocal.datastores.sql_types import split_table
    schema, name = split_table(table)
    dialect = sql_url(info).get_dialect()()
    query = sa.select(sa.text("*")).select_from(sa.table(name, schema=schema))
    return str(query.compile(dialect=dialect))


def _source(runner, node: Node, spec: dict, staging: Path) -> Source:
    if spec.get("kind") == "sql":
        from amlocal.datastores.sql import query_digest
        info = _sql_info(runner, spec["datastore"])
        if spec.get("procedure"):   # its result set; parameters bound by name
            from amlocal.datastores.sql import procedure_call, procedure_value
            params = [(p["name"], procedure_value(p["name"], p.get("type") or "String",
                                                  p.get("value")))
                      for p in spec.get("procedure_params") or []]
            query = procedure_call(info, spec["procedure"], params)
            return Source(shown=f"stored procedure '{spec['procedure']}' on SQL datastore "
                                f"'{info.name}'",
                          digest=query_digest(info, f"{query} {params!r}"),
                          sql=(info, query, {f"p{i}": v for i, (_, v) in enumerate(params)}))
        query = spec.get("query") or select_all(info, spec["table"])
        what = (f"table '{spec['table']}'" if spec.get("table")
                else f"query {_short(spec['query'])!r}")
        return Source(shown=f"{what} on SQL datastore '{info.name}'",
                      digest=query_digest(info, query), sql=(info, query, None))
    if spec.get("kind") != "files":
        raise UserErrorException(f"step '{node.name}': the stored transfer has no source: the "
                                 "stored graph is damaged; submit the pipeline again")
    inp = next((i for i in node.inputs if i.name == spec["input"]), None)
    if inp is None:
        raise UserErrorException(f"step '{node.name}': the transfer's input '{spec['input']}' "
                                 "is missing from the stored graph; submit the pipeline again")
    from amlocal.datastores.resolve import content_digest, resolve_sources
    from amlocal.datastores.transfer import copy_matches
    digest = None
    if inp.type is InputType.OUTPUT:
        location = require_output(runner.outputs, inp.data, node.name)
        sources = location.as_definition()["sources"]
        shown = f"output '{inp.data}' ('{location.datastore}', '{location.path}')"
        digest = location.digest or (folder_digest(location.local) if location.local else None)
    elif inp.type is InputType.DATAREFERENCE:
        datastore, path = inp.datastore, inp.path_on_datastore or ""
        value = runner.params.get(inp.parameter or "")
        if isinstance(value, dict) and value.get("kind") == "datapath":   # submitted DataPath
            datastore, path = value["datastore"], value.get("path_on_datastore") or ""
        path = "" if path in ("/", ".", "./") else path
        sources = [{"datastore": datastore, "path": path}]
        shown = f"('{datastore}', '{path}')"
    else:
        raise UserErrorException(f"step '{node.name}': a dataset is not a transfer source; give "
                                 "its path as a DataReference")
    res = resolve_sources(sources, runner._resolve_datastore)
    if not res.matches:
        raise UserErrorException(f"the transfer's source {shown} holds no file; check the path "
                                 "(or that the step writing it wrote files)")
    if res.local:
        paths = [Path(m.path) for m in res.matches]
    else:
        paths = copy_matches(res, staging, overwrite=True)
    files = tuple((p, m.portable.lstrip("/")) for p, m in zip(paths, res.matches))
    return Source(shown=shown, digest=digest or content_digest(res.matches), files=files,
                  single_file=res.single_file)


def read_table(files, shown: str):
    """The files' rows as one DataFrame (see the module docstring for which files count)."""
    import pandas as pd
    parquet = [p for p, _ in files if p.suffix.lower() == ".parquet"]
    delimited = [p for p, _ in files if p.suffix.lower() in (".csv", ".tsv", ".txt")]
    if parquet:
        frames = [pd.read_parquet(p) for p in parquet]
    elif delimited:
        frames = [pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
                  for p in delimited]
    else:
        names = ", ".join(name for _, name in list(files)[:5])
        raise UserErrorException(
            f"the transfer's source {shown} holds no .parquet, .csv or .tsv file to read as a "
            f"table (it holds: {names}); write the table as one of those")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _rows(source: Source):
    from amlocal.datastores.sql import read_query
    if source.sql is not None:
        info, query, params = source.sql
        return read_query(info, query, timeout=QUERY_TIMEOUT, params=params)
    return read_table(source.files, source.shown)


# -- the destination ----------------------------------------------------------------------------
def _write(runner, node: Node, step, spec: dict, source: Source, staging: Path, say):
    """Write the destination; answer ``(graph output, its location, what was written)``."""
    dest = spec.get("destination") or {}
    if dest.get("kind") == "sql":
        from amlocal.datastores.sql import write_table
        info = _sql_info(runner, dest["datastore"])
        frame = _rows(source)
        say(f"read {len(frame)} row(s) from {source.shown}")
        runner._check_canceled()
        mode = dest.get("mode") or "append"
        rows = write_table(info, dest["table"], frame, mode=mode)
        verb = "appended" if mode == "append" else "replaced the table with"
        written = f"table '{dest['table']}' on SQL datastore '{info.name}'"
        say(f"{verb} {rows} row(s): {written}")
        out = node.outputs[0] if node.outputs else None
        if out is None:
            return None, None, written
        location = locate_output(out, step.id, runner._datastore_info)
        folder = staging / "out"
        folder.mkdir(parents=True)
        (folder / SUMMARY_FILE).write_text(json.dumps(
            {"datastore": info.name, "table": dest["table"], "mode": mode, "rows": rows,
             "source": source.shown}, indent=2) + "\n")
        _upload(runner, folder, location)
        return out, location, written
    out = node.output(dest.get("output", ""))
    if out is None:
        raise UserErrorException(f"step '{node.name}': the stored transfer has no destination: "
                                 "the stored graph is damaged; submit the pipeline again")
    out, file_name = _file_destination(out, runner.params, spec, source)
    location = locate_output(out, step.id, runner._datastore_info)
    folder = staging / "out"
    folder.mkdir(parents=True)
    where = f"('{location.datastore}', '{location.path}{'/' + file_name if file_name else ''}')"
    fmt = TABLE_FORMATS.get(PurePosixPath(file_name or FOLDER_FILE).suffix.lower())
    source_fmt = {TABLE_FORMATS.get(p.suffix.lower()) for p, _ in source.files}
    if source.sql is not None or (fmt and file_name and (source_fmt != {fmt}
                                                         or len(source.files) > 1)):
        frame = _rows(source)
        say(f"read {len(frame)} row(s) from {source.shown}")
        target = folder / (file_name or FOLDER_FILE)
        _write_frame(frame, target, fmt or "parquet")
        written = f"{where} as {fmt or 'parquet'}"
        say(f"wrote {len(frame)} row(s) to {written}")
    else:
        if file_name and not source.single_file and len(source.files) > 1:
            raise UserErrorException(
                f"the destination {where} is a file but the source {source.shown} holds "
                f"{len(source.files)} files; give a folder as destination (or "
                "destination_reference_type='directory')")
        total = 0
        for path, name in source.files:
            target = folder / (file_name if file_name else name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            total += target.stat().st_size
        written = where
        say(f"copied {len(source.files)} file(s) ({total} bytes) from {source.shown} to {where}")
    runner._check_canceled()
    _upload(runner, folder, location)
    return out, location, written


def _file_destination(out: NodeOutput, params: dict, spec: dict,
                      source: Source) -> tuple[NodeOutput, str | None]:
    """The output with the submitted DataPath applied and the folder it names, and the file
    name when the destination names a file (see the step's docstring)."""
    if out.kind is not OutputKind.DATA_REFERENCE:
        return out, None      # a PipelineData / OutputFileDatasetConfig: a folder
    value = params.get(out.parameter or "")
    path, datastore = out.path, out.datastore
    if isinstance(value, dict) and value.get("kind") == "datapath":
        datastore, path = value["datastore"], value.get("path_on_datastore") or ""
    path = "" if path in ("/", ".", "./") else path.strip("/")
    kind = spec.get("destination_reference_type")
    last = PurePosixPath(path).name
    suffix = PurePosixPath(last).suffix.lower()
    is_file = bool(last) and (kind == "file" or (kind is None and (
        suffix in TABLE_FORMATS or (source.single_file and bool(suffix)))))
    if kind == "file" and not last:
        raise UserErrorException("destination_reference_type='file' but the destination names "
                                 "the datastore's root; give a file name such as 'out/data.csv'")
    if is_file and source.sql is not None and suffix not in TABLE_FORMATS:
        raise UserErrorException(
            f"the destination file '{path}' gets the rows of {source.shown}: name it .csv, "
            ".tsv or .parquet (the name decides the format), or give a folder")
    folder = str(PurePosixPath(path).parent) if is_file else path
    folder = "" if folder == "." else folder
    return dataclasses.replace(out, datastore=datastore, path=folder), (last if is_file else None)


def _write_frame(frame, target: Path, fmt: str) -> None:
    if fmt == "parquet":
        from amlocal.datastores.sql import write_parquet
        write_parquet(frame, target)
    else:
        frame.to_csv(target, index=False, sep="\t" if fmt == "tsv" else ",")


def _upload(runner, folder: Path, location: OutputLocation) -> None:
    from amlocal.datastores import upload_output
    info = runner._datastore_info(location.datastore)
    upload_output(str(folder), info.url, dict(info.options), location.path, overwrite=True,
                  show_progress=False)


def _short(query: str, limit: int = 120) -> str:
    flat = " ".join(str(query).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."
