"""The step API: what a step's token may do, decided and checked on the host.

A token is granted for one step run (its *owner*). The owner's *scope* is its run, its workspace,
its parent run and its *tree* (every run under the owner's top-most ancestor: the pipeline run
and its steps). A token may

* read its workspace's runs (``get_run``, ``list_runs``, ``get_metric_records``), experiments,
  datasets, models, environments and datastores (``get_datastore``/``list_datastores`` answer
  without credentials: secret storage options and URL passwords read ``***``);
* read the files of runs of its own tree only (``list_artifacts``, ``fetch_artifact``,
  ``read_artifact``);
* write to its own run (``log_metrics``, ``set_tags``, ``remove_tags``, ``add_properties``,
  ``put_artifact``, ``append_artifact``; not its status: the runner sets it from the exit code);
* write metrics, tags and properties to its parent run (``run.parent.log(...)``);
* create child runs of its own run (``create_run``: NotStarted, or Running as ``child_run()``
  makes them, in its experiment, with no reuse key, no reused-from and no definition) and write
  to them as to its own run, plus ``update_run`` of their status, start and end times, error
  and name;
* register models (``register_model``, ``update_model``), datasets (``register_dataset``,
  ``update_dataset``: description and tags) and environments, ensure
  experiments, and fetch models (by workspace, name and version, looked up in the store) and
  datasets (the host reads the datastore: ``fetch_dataset``), in its own workspace;
* never add properties named ``amlocal.*`` (amlocal's own bookkeeping: the runner marks the step
  runs it recorded with them, and only those can be reused).

Everything else (workspaces, datastores, pipelines, compute targets, other workspaces, runs
outside the workspace, files outside the tree) is refused with HTTP 403. Every identifier, name,
path and version is checked (:mod:`._validate`); a malformed one is answered with HTTP 400.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._status import RunStatus
from ..errors import UserErrorException
from ..store.entities import DatasetInfo, DatastoreInfo, ModelInfo, RunInfo, utcnow
from . import _validate as check

RESERVED_PROPERTY_PREFIX = "amlocal."
# what a step may call, by kind of check
WORKSPACE_READS = frozenset({
    "get_datastore", "list_datastores", "list_experiments", "get_experiment", "get_model",
    "list_models", "get_environment", "list_environments", "get_dataset", "get_dataset_by_id",
    "list_datasets"})
RUN_READS = frozenset({"get_run", "list_runs", "get_metric_records", "find_workspaces"})
TREE_READS = frozenset({"list_artifacts", "fetch_artifact", "read_artifact"})
RUN_WRITES = frozenset({"log_metrics", "set_tags", "remove_tags", "add_properties",
                        "put_artifact", "append_artifact"})
PARENT_WRITES = frozenset({"log_metrics", "set_tags", "add_properties"})
CHILD_WRITES = RUN_WRITES | {"update_run"}
WORKSPACE_WRITES = frozenset({"register_model", "update_model", "register_environment",
                              "ensure_experiment", "register_dataset", "update_dataset"})
# served by the run service itself, not by a store method of the same signature
SERVICE_METHODS = frozenset({"fetch_dataset", "fetch_model"})
STEP_API = (WORKSPACE_READS | RUN_READS | TREE_READS | RUN_WRITES | {"update_run", "create_run"}
            | WORKSPACE_WRITES | SERVICE_METHODS)
CHILD_RUN_FIELDS = frozenset({"status", "started_at", "ended_at", "error", "name"})
# the statuses a step may give its child runs (never Finished: that is a runner's step run's)
CHILD_STATUSES = (RunStatus.NOT_STARTED, RunStatus.STARTING, RunStatus.QUEUED,
                  RunStatus.PREPARING, RunStatus.RUNNING, RunStatus.FINALIZING,
                  RunStatus.CANCEL_REQUESTED, RunStatus.COMPLETED, RunStatus.FAILED,
                  RunStatus.CANCELED)
# the statuses a run a step creates starts with: create_children's, and child_run()'s
NEW_CHILD_STATUSES = (RunStatus.NOT_STARTED, RunStatus.RUNNING)
MAX_DEPTH = 64  # runs nest this deep at most when a tree is walked
_REFUSED_WHAT = ("a step may read its workspace's runs, datasets, datastores (without "
                 "credentials), models and environments, write to its own run, its child runs "
                 "and (metrics, tags, properties) its parent run, and register models, datasets "
                 "and environments in its own workspace")


class Refusal(Exception):
    """An HTTP error answer: status, error type and message."""

    def __init__(self, status: int, message: str, type_name: str = "UserErrorException"):
        super().__init__(message)
        self.status = status
        self.type_name = type_name
        self.message = message


@dataclass(frozen=True)
class Scope:
    """What a token's run is: its id, workspace, experiment, parent and the root of its tree."""

    run_id: str
    workspace_id: str
    experiment: str
    parent_id: str | None
    root_id: str


def scope_of(store, run_id: str) -> Scope:
    """The scope of the token granted for ``run_id`` (403 when that run is gone)."""
    info = store.get_run(run_id)
    if info is None:
        raise Refusal(403, f"the run {run_id} this token was granted for does not exist in the "
                           "store")
    return Scope(run_id=info.id, workspace_id=info.workspace_id, experiment=info.experiment,
                 parent_id=info.parent_id, root_id=_root(store, info))


def _root(store, info: RunInfo) -> str:
    for _ in range(MAX_DEPTH):
        if info.parent_id is None:
            return info.id
        parent = store.get_run(info.parent_id)
        if parent is None:
            return info.id
        info = parent
    return info.id


def redact_datastore(info: DatastoreInfo) -> DatastoreInfo:
    """The datastore as a step sees it: URL passwords and secret-looking storage options (keys,
    SAS tokens, connection strings' keys) read ``***``; the non-secret facts stay."""
    from amlocal.datastores import redact_options, redact_url
    from amlocal.datastores.azure import parse_connection_string
    options = redact_options(info.options)
    conn = info.options.get("connection_string") if isinstance(info.options, dict) else None
    if isinstance(conn, str):
        parts = parse_connection_string(conn)
        kept = {"blobendpoint": "BlobEndpoint", "accountname": "AccountName",
                "endpointsuffix": "EndpointSuffix",
                "defaultendpointsprotocol": "DefaultEndpointsProtocol"}
        shown = [f"{name}={parts[key]}" for key, name in kept.items() if parts.get(key)]
        if parts.get("accountkey"):
            shown.append("AccountKey=***")
        if parts.get("sharedaccesssignature"):
            shown.append("SharedAccessSignature=***")
        options["connection_string"] = ";".join(shown)
    return dataclasses.replace(info, url=redact_url(info.url), options=options)


class StepPolicy:
    """Checks one call of a token's run against the step API; see the module docstring."""

    def __init__(self, store):
        self.store = store

    # -- the entry points -------------------------------------------------------------------
    def check(self, scope: Scope, method: str, args: dict) -> dict:
        """The arguments to call ``method`` with (checked, normalised); raises Refusal (403)
        for what the step may not do and UserErrorException (400) for malformed input."""
        if method not in STEP_API:
            raise Refusal(403, f"a step may not call {method} (run {scope.run_id}): "
                               f"{_REFUSED_WHAT}; workspaces, datastores, published pipelines "
                               "and compute targets are changed on the host")
        args = dict(args)
        self._check_fields(scope, method, args)
        if method in WORKSPACE_READS or method in WORKSPACE_WRITES or method in SERVICE_METHODS:
            self._own_workspace(scope, method, args)
        elif method == "find_workspaces":
            pass  # answered with the token's own workspace only (see answer)
        elif method == "list_runs":
            if args.get("workspace_id") is None:
                args["workspace_id"] = scope.workspace_id
            self._own_workspace(scope, method, args)
            if args.get("parent_id") is not None:
                self._run_in_workspace(scope, method, args["parent_id"])
        elif method in ("get_run", "get_metric_records"):
            self._run_in_workspace(scope, method, args["run_id"])
        elif method in TREE_READS:
            self._run_in_tree(scope, method, args["run_id"])
        elif method == "create_run":
            args["info"] = self._child_run(scope, args["info"])
        else:
            self._write_on_run(scope, method, args)
        return args

    def answer(self, scope: Scope, method: str, result):
        """The store's answer as the step may see it."""
        if method == "find_workspaces":
            return [w for w in result if w.id == scope.workspace_id]
        if method == "get_datastore":
            return None if result is None else redact_datastore(result)
        if method == "list_datastores":
            return [redact_datastore(d) for d in result]
        if method == "get_run" and result is not None and result.workspace_id != scope.workspace_id:
            raise Refusal(403, f"run {scope.run_id} may read runs of its own workspace only")
        return result

    # -- argument checks --------------------------------------------------------------------
    def _check_fields(self, scope: Scope, method: str, args: dict) -> None:
        if "run_id" in args:
            args["run_id"] = check.run_id(args["run_id"])
        if args.get("parent_id") is not None:
            args["parent_id"] = check.run_id(args["parent_id"], "parent run id")
        if "name" in args and method in ("put_artifact", "fetch_artifact", "append_artifact",
                                         "read_artifact"):
            args["name"] = check.artifact_name(args["name"])
        elif args.get("name") is not None and method in ("get_model", "list_models",
                                                         "update_model", "fetch_model"):
            args["name"] = check.model_name(args["name"])
        elif "name" in args and method in ("get_environment", "register_environment"):
            args["name"] = check.environment_name(
                args["name"], registering=method == "register_environment")
        elif "name" in args and method in ("get_dataset", "update_dataset"):
            args["name"] = check.dataset_name(args["name"])
        elif "name" in args and method == "get_datastore":
            args["name"] = check.datastore_name(args["name"])
        elif "name" in args and method in ("ensure_experiment", "get_experiment"):
            args["name"] = check.experiment_name(args["name"])
        elif args.get("name") is not None and method == "find_workspaces":
            check.text(args["name"], "workspace name")
        if args.get("experiment") is not None:
            args["experiment"] = check.experiment_name(args["experiment"])
        if "version" in args:
            args["version"] = check.version(args["version"])
        if "offset" in args and (not isinstance(args["offset"], int)
                                 or isinstance(args["offset"], bool) or args["offset"] < 0):
            raise UserErrorException(f"offset {args['offset']!r} must be a whole number >= 0")
        if "records" in args:
            check.metric_records(args["records"])
        for key in ("tags", "add_tags"):
            if args.get(key) is not None:
                check.string_map(args[key], key)
        for key in ("properties", "add_properties"):
            if args.get(key) is not None:
                check.string_map(args[key], key, allow_none=False)
                self._unreserved(scope, args[key])
        for key in ("keys", "remove_tags"):
            if args.get(key) is not None:
                check.string_list(args[key], key)
        if method == "register_environment":
            check.plain_json(args["definition"], "the environment's definition")
        if args.get("add_datasets") is not None:
            check.plain_json(args["add_datasets"], "add_datasets", kind=list)
        if method == "register_model":
            args["info"] = self._model(scope, args["info"])
        if method == "register_dataset":
            args["info"] = self._dataset(args["info"])

    @staticmethod
    def _unreserved(scope: Scope, properties: dict) -> None:
        reserved = sorted(k for k in properties if str(k).startswith(RESERVED_PROPERTY_PREFIX))
        if reserved:
            raise Refusal(403, f"run {scope.run_id} may not add properties {reserved}: names "
                               f"starting with {RESERVED_PROPERTY_PREFIX!r} are amlocal's own")

    def _model(self, scope: Scope, info) -> ModelInfo:
        if not isinstance(info, ModelInfo):
            raise UserErrorException("register_model needs info=<ModelInfo>")
        check.model_name(info.name)
        check.optional_run_id(info.run_id, "the model's run id")
        if info.run_id is not None:
            self._run_in_workspace(scope, "register_model", info.run_id)
        check.string_map(info.tags, "the model's tags")
        check.string_map(info.properties, "the model's properties", allow_none=False)
        check.plain_json(info.datasets if hasattr(info, "datasets") else [], "the model's "
                         "datasets", kind=list)
        # the store chooses the version and the stored path; what the step sent is not kept
        return dataclasses.replace(info, version=0, path="")

    @staticmethod
    def _dataset(info) -> DatasetInfo:
        from amlocal.datastores.paths import definition_id
        if not isinstance(info, DatasetInfo):
            raise UserErrorException("register_dataset needs info=<DatasetInfo>")
        check.dataset_name(info.name)
        check.plain_json(info.definition, "the dataset's definition")
        check.string_map(info.tags, "the dataset's tags")
        if info.id != definition_id(info.definition):
            raise UserErrorException(f"dataset id {info.id!r} is not the id of its definition "
                                     f"({definition_id(info.definition)})")
        return dataclasses.replace(info, version=0)

    # -- scope checks -----------------------------------------------------------------------
    def _own_workspace(self, scope: Scope, method: str, args: dict) -> None:
        info = args.get("info")
        workspace_id = info.workspace_id if info is not None else args.get("workspace_id")
        if workspace_id != scope.workspace_id:
            raise Refusal(403, f"run {scope.run_id} may call {method} only in its own workspace")

    def _run_in_workspace(self, scope: Scope, method: str, run_id: str) -> None:
        info = self.store.get_run(run_id)
        if info is not None and info.workspace_id != scope.workspace_id:
            raise Refusal(403, f"run {scope.run_id} may not call {method} on run {run_id}: a "
                               "step reads runs of its own workspace only")

    def _run_in_tree(self, scope: Scope, method: str, run_id: str) -> None:
        info = self.store.get_run(run_id)
        if info is None:
            raise Refusal(403, f"run {scope.run_id} may not call {method} on run {run_id}: "
                               "there is no such run")
        if info.workspace_id != scope.workspace_id or _root(self.store, info) != scope.root_id:
            raise Refusal(403, f"run {scope.run_id} may not call {method} on run {run_id}: a "
                               "step reads the files of the runs of its own pipeline run only")

    def _write_on_run(self, scope: Scope, method: str, args: dict) -> None:
        run_id = args["run_id"]
        if method == "update_run" and run_id == scope.run_id:
            raise Refusal(403, f"run {scope.run_id} may not call update_run on itself: a "
                               "step's status is set by its runner from the script's exit "
                               "code (run.complete()/fail() inside a job do not set it)")
        if run_id == scope.run_id and method in RUN_WRITES:
            return
        target = self.store.get_run(run_id)
        if target is not None and target.parent_id == scope.run_id and method in CHILD_WRITES:
            if method == "update_run":
                fields = sorted(set(args) - {"run_id"})
                if set(fields) - CHILD_RUN_FIELDS:
                    raise Refusal(403, f"a step may set only "
                                       f"{', '.join(sorted(CHILD_RUN_FIELDS))} of its child "
                                       f"runs, not {', '.join(fields)}")
                self._child_fields(args)
            return
        if method in PARENT_WRITES and run_id == scope.parent_id:
            return
        allowed = ", ".join(sorted(PARENT_WRITES))
        raise Refusal(403, f"run {scope.run_id} may not call {method} on run {run_id}: a step "
                           f"writes to its own run, to its child runs, and ({allowed}) to its "
                           "parent run only")

    @staticmethod
    def _child_fields(args: dict) -> None:
        if "status" in args:
            args["status"] = _child_status(args["status"])
        for key in ("started_at", "ended_at"):
            if key in args:
                check.timestamp(args[key], key)
        if args.get("error") is not None:
            check.plain_json(args["error"], "error", limit=64 << 10)
        if args.get("name") is not None:
            check.text(args["name"], "run name")
            if len(args["name"]) > 255:
                raise UserErrorException("a run name has at most 255 characters")

    def _child_run(self, scope: Scope, info) -> RunInfo:
        """The run a step may create: a child of its own run, as the host records it."""
        if not isinstance(info, RunInfo):
            raise UserErrorException("create_run needs info=<RunInfo>")
        check.run_id(info.id)
        if info.workspace_id != scope.workspace_id:
            raise Refusal(403, f"run {scope.run_id} may create runs only in its own workspace")
        if info.parent_id != scope.run_id:
            raise Refusal(403, f"run {scope.run_id} may create only its own child runs (parent_id "
                               f"{scope.run_id}), not a run with parent_id {info.parent_id!r}")
        chosen = [name for name, value in (("reuse_key", info.reuse_key),
                                           ("reused_from", info.reused_from),
                                           ("definition", info.definition),
                                           ("ended_at", info.ended_at), ("error", info.error))
                  if value]
        if chosen:
            raise Refusal(403, f"a run a step creates may not carry {', '.join(chosen)}: its "
                               "runner records those for the runs it executes")
        if info.status not in NEW_CHILD_STATUSES:
            raise Refusal(403, f"a run a step creates starts {RunStatus.NOT_STARTED} "
                               f"(create_children) or {RunStatus.RUNNING} (child_run), not "
                               f"{info.status!r}")
        if info.kind != "script":
            raise Refusal(403, f"a run a step creates is a script run, not a {info.kind!r} run")
        if info.experiment != scope.experiment:
            raise Refusal(403, f"a child run belongs to its parent's experiment "
                               f"{scope.experiment!r}, not {info.experiment!r}")
        check.string_map(info.tags, "the run's tags")
        check.string_map(info.properties, "the run's properties", allow_none=False)
        self._unreserved(scope, info.properties)
        if info.name is not None:
            self._child_fields({"name": info.name})
        check.text(info.target, "the run's target")
        if len(info.target) > 255:
            raise UserErrorException("a run's target name has at most 255 characters")
        if self.store.get_run(info.id) is not None:
            raise UserErrorException(f"a run with id {info.id} exists already; give the child "
                                     "run another id (or none, for a new uuid)")
        now = utcnow()
        return RunInfo(id=info.id, workspace_id=scope.workspace_id, experiment=scope.experiment,
                       kind="script", status=info.status, name=info.name, parent_id=scope.run_id,
                       target=info.target, created_at=now,
                       started_at=now if info.status == RunStatus.RUNNING else None,
                       tags=dict(info.tags), properties=dict(info.properties))


def _child_status(value) -> str:
    """The status a step sets on its child run, as Azure's string; HTTP 400 naming the allowed
    statuses for anything else (not a string, not a run status, or one a step may not set)."""
    allowed = ", ".join(s.value for s in CHILD_STATUSES)
    try:
        status = RunStatus.of(value)
    except ValueError:
        raise UserErrorException(f"status {value!r} is not a run status; a step may give its "
                                 f"child runs one of: {allowed}") from None
    if status not in CHILD_STATUSES:
        raise UserErrorException(f"status {status.value!r} is not one a step may give its child "
                                 f"runs: {allowed}")
    return status.value
