"""The store on SQLAlchemy: embedded SQLite by default, any SQLAlchemy URL through
``AMLOCAL_STORE_URL``. Schema changes are Alembic migrations, applied on first open.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``, so the CLI, several submissions and the run service can use one database
at the same time without corrupting it or failing on lock upgrades. PostgreSQL
(``postgresql://``) isolates its read-modify-write paths with row and advisory locks instead
(``sql_pg``).
"""
from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from .._status import TERMINAL, RunStatus
from ..errors import StoreError, UserErrorException
from .base import Store
from .entities import (ComputeTargetInfo, DatasetInfo, DatastoreInfo, EnvironmentInfo,
                       ExperimentInfo,
                       ModelInfo, PublishedPipelineInfo, RunInfo, WorkspaceInfo,
                       utcnow)
from .files import LocalFiles, StoreFiles
from .sql_batch import RunBatchStore, RunChange
from .sql_endpoints import PipelineEndpointStore
from .sql_keys import ApiKeyStore
from .sql_metrics import MetricStore
from . import sql_pg
from .sql_pg import lock, safe_url
from .sql_runs import RunListStore
from .sql_schedules import ScheduleStore
from . import schema as t

HEAD_REVISION = "0007"


def _entity(cls, row) -> object:
    return cls(**{k: v for k, v in row._mapping.items() if k in cls.__dataclass_fields__})


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    """The database's own words for ``exc`` (without SQLAlchemy's statement and parameters)."""
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())


def _canonical(value: dict) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class SqlStore(RunListStore, MetricStore, RunBatchStore, PipelineEndpointStore, ScheduleStore,
               ApiKeyStore, Store):
    """The host's store. Pipeline endpoints, schedules and the server's API keys are the host's
    alone (mixins in ``sql_endpoints``, ``sql_schedules``, ``sql_keys``): they are not part of
    the Store interface a step's client offers. Run lists are paged in SQL (``sql_runs``),
    metric records written and read in bulk (``sql_metrics``)."""

    def __init__(self, url: str, artifacts_root: Path, models_root: Path, *,
                 files: StoreFiles | None = None, home: Path | None = None):
        from .. import _settings
        self.url = url
        # the home: 0700 (secrets inside); by default the folder holding the artifacts
        self.home = Path(home) if home is not None else Path(artifacts_root).parent
        _settings.secure_home(self.home)
        self.files = files if files is not None else LocalFiles(artifacts_root, models_root)
        self._engine = self._make_engine(url)
        self._migrate()

    # -- plumbing ---------------------------------------------------------------------------
    @staticmethod
    def _make_engine(url: str) -> sa.Engine:
        if sql_pg.is_postgres(url):
            return sql_pg.make_engine(url)
        if not url.startswith("sqlite"):
            return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from .. import _settings
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _settings.private_file(Path(path))  # 0600: datastore credentials are inside
        # pooled connections: opening one (and its pragmas) costs more than most statements
        engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=4, max_overflow=16,
                                  connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def _current_revision(self) -> str | None:
        with self._engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def _migrate(self) -> None:
        try:
            if self._current_revision() == HEAD_REVISION:
                return
            from alembic import command
            from alembic.config import Config
            import filelock

            lock_path = self.home / ".migrate.lock"
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with filelock.FileLock(str(lock_path), timeout=120):
                if self._current_revision() == HEAD_REVISION:
                    return
                cfg = Config()
                cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
                with self._engine.begin() as conn:
                    lock(conn, *sql_pg.MIGRATION_LOCK)  # other machines (PostgreSQL)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
        except sa.exc.SQLAlchemyError as exc:
            # the URL without its password; the driver's own message, never the parameters
            raise StoreError(f"cannot open the amlocal store at {safe_url(self.url)}: "
                             f"{_reason(exc)}") from None

    def _one(self, query, cls):
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _entity(cls, row) if row is not None else None

    def _all(self, query, cls) -> list:
        with self._engine.connect() as conn:
            return [_entity(cls, row) for row in conn.execute(query)]

    def _versioned(self, table, cls, workspace_id, name, version=None):
        """Version ``version`` of ``name``, or its latest when None (models, environments,
        datasets are versioned 1, 2, 3 ... per name)."""
        q = table.select().where((table.c.workspace_id == workspace_id) & (table.c.name == name))
        q = q.where(table.c.version == int(version)) if version is not None else \
            q.order_by(table.c.version.desc())
        return self._one(q, cls)

    def _insert_next_version(self, table, cls, info, same=None, **fields):
        """Insert ``info`` as the next version of its name, unless ``same(latest)`` says the
        latest version is it already (answered then; ``same`` may raise to refuse). The
        primary key makes the number atomic: a concurrent registration that took it makes this
        one try the next (on PostgreSQL the name is locked while its latest version is read
        and the next taken; SQLite's write transactions are serialized)."""
        c = table.c
        for _ in range(50):
            try:
                with self._engine.begin() as conn:
                    lock(conn, table.name, info.workspace_id, info.name)
                    row = conn.execute(table.select().where(
                        (c.workspace_id == info.workspace_id) & (c.name == info.name))
                        .order_by(c.version.desc()).limit(1)).first()
                    latest = _entity(cls, row) if row is not None else None
                    if latest is not None and same is not None and same(latest):
                        return latest
                    record = cls(**{**info.__dict__, **fields, "created_at": utcnow(),
                                    "version": (latest.version if latest else 0) + 1})
                    conn.execute(table.insert().values(**record.__dict__))
                return record
            except IntegrityError:
                continue
        raise StoreError(f"could not register {info.name!r}: too many concurrent registrations")

    # -- workspaces -------------------------------------------------------------------------
    def create_workspace(self, info: WorkspaceInfo) -> WorkspaceInfo:
        existing = self.find_workspaces(info.name, info.resource_group, info.subscription_id)
        if existing:
            return existing[0]
        try:
            with self._engine.begin() as conn:
                conn.execute(t.workspaces.insert().values(**info.__dict__))
        except IntegrityError:  # another process created it first
            return self.find_workspaces(info.name, info.resource_group, info.subscription_id)[0]
        return info

    def find_workspaces(self, name=None, resource_group=None, subscription_id=None):
        q = t.workspaces.select().order_by(t.workspaces.c.created_at)
        if name is not None:
            q = q.where(t.workspaces.c.name == name)
        if resource_group is not None:
            q = q.where(t.workspaces.c.resource_group == resource_group)
        if subscription_id is not None:
            q = q.where(t.workspaces.c.subscription_id == subscription_id)
        return self._all(q, WorkspaceInfo)

    def delete_workspace(self, workspace_id):
        tables = (t.datastores, t.experiments, t.runs, t.models, t.environments,
                  t.published_pipelines, t.compute_targets, t.datasets)
        with self._engine.begin() as conn:
            rows = conn.execute(sa.select(t.runs.c.id, t.runs.c.status)
                                .where(t.runs.c.workspace_id == workspace_id)).all()
            active = sorted(r.id for r in rows if r.status not in TERMINAL)
            if active:
                raise UserErrorException(
                    f"the workspace has runs that have not finished ({', '.join(active)}); "
                    "cancel them (`amlocal run cancel ID`) or wait for them, then delete it")
            ids = [r.id for r in rows]
            if ids:
                conn.execute(t.metrics.delete().where(t.metrics.c.run_id.in_(ids)))
            for table in tables:
                conn.execute(table.delete().where(table.c.workspace_id == workspace_id))
            conn.execute(t.workspaces.delete().where(t.workspaces.c.id == workspace_id))
        self.delete_schedules(workspace_id)
        self.delete_pipeline_endpoints(workspace_id)
        for run_id in ids:
            self.files.delete_run_files(run_id)
        self.files.delete_model_files(workspace_id)

    def set_default_datastore(self, workspace_id, name):
        with self._engine.begin() as conn:
            conn.execute(t.workspaces.update().where(t.workspaces.c.id == workspace_id)
                         .values(default_datastore=name))

    # -- datastores -------------------------------------------------------------------------
    def put_datastore(self, info, overwrite=False):
        with self._engine.begin() as conn:
            lock(conn, "datastores", info.workspace_id, info.name)
            key = (t.datastores.c.workspace_id == info.workspace_id) & (t.datastores.c.name == info.name)
            row = conn.execute(t.datastores.select().where(key)).first()
            if row is not None and not overwrite:
                return _entity(DatastoreInfo, row)
            if row is not None:
                conn.execute(t.datastores.delete().where(key))
            conn.execute(t.datastores.insert().values(**info.__dict__))
        return info

    def get_datastore(self, workspace_id, name):
        return self._one(t.datastores.select().where(
            (t.datastores.c.workspace_id == workspace_id) & (t.datastores.c.name == name)), DatastoreInfo)

    def list_datastores(self, workspace_id):
        return self._all(t.datastores.select().where(t.datastores.c.workspace_id == workspace_id)
                         .order_by(t.datastores.c.name), DatastoreInfo)

    def delete_datastore(self, workspace_id, name):
        with self._engine.begin() as conn:
            conn.execute(t.datastores.delete().where(
                (t.datastores.c.workspace_id == workspace_id) & (t.datastores.c.name == name)))

    # -- experiments and runs ---------------------------------------------------------------
    def ensure_experiment(self, workspace_id, name):
        key = (t.experiments.c.workspace_id == workspace_id) & (t.experiments.c.name == name)
        found = self._one(t.experiments.select().where(key), ExperimentInfo)
        if found:
            return found
        info = ExperimentInfo(workspace_id=workspace_id, name=name)
        try:
            with self._engine.begin() as conn:
                conn.execute(t.experiments.insert().values(**info.__dict__))
        except IntegrityError:
            return self._one(t.experiments.select().where(key), ExperimentInfo)
        return info

    def list_experiments(self, workspace_id):
        return self._all(t.experiments.select().where(t.experiments.c.workspace_id == workspace_id)
                         .order_by(t.experiments.c.name), ExperimentInfo)

    def get_experiment(self, workspace_id, name):
        return self._one(t.experiments.select().where(
            (t.experiments.c.workspace_id == workspace_id) & (t.experiments.c.name == name)),
            ExperimentInfo)

    def update_experiment(self, workspace_id, name, set_tags=None, remove_tags=None, archived=None):
        key = (t.experiments.c.workspace_id == workspace_id) & (t.experiments.c.name == name)
        with self._engine.begin() as conn:
            row = conn.execute(t.experiments.select().where(key).with_for_update()).first()
            if row is None:
                raise UserErrorException(f"no experiment {name!r} in this workspace")
            current = _entity(ExperimentInfo, row)
            tags = {**(current.tags or {}), **(set_tags or {})}
            for k in remove_tags or []:
                tags.pop(k, None)
            archived_time = current.archived_time
            if archived is True and archived_time is None:
                archived_time = utcnow()
            elif archived is False:
                archived_time = None
            conn.execute(t.experiments.update().where(key).values(
                tags=tags, archived_time=archived_time))
        return self.get_experiment(workspace_id, name)

    def delete_experiment(self, workspace_id, name):
        key = (t.experiments.c.workspace_id == workspace_id) & (t.experiments.c.name == name)
        runs_of = (t.runs.c.workspace_id == workspace_id) & (t.runs.c.experiment == name)
        with self._engine.begin() as conn:
            if conn.execute(t.experiments.select().where(key)).first() is None:
                raise UserErrorException(f"no experiment {name!r} in this workspace")
            rows = conn.execute(sa.select(t.runs.c.id, t.runs.c.status).where(runs_of)).all()
            active = sorted(r.id for r in rows if r.status not in TERMINAL)
            if active:
                raise UserErrorException(
                    f"experiment {name!r} has runs that have not finished ({', '.join(active)}); "
                    "cancel them (run.cancel() or `amlocal run cancel ID`) or wait for them, "
                    "then delete the experiment")
            ids = [r.id for r in rows]
            if ids:
                conn.execute(t.metrics.delete().where(t.metrics.c.run_id.in_(ids)))
                conn.execute(t.runs.delete().where(t.runs.c.id.in_(ids)))
            conn.execute(t.experiments.delete().where(key))
        for run_id in ids:  # the rows first: a run never exists without its files
            self.files.delete_run_files(run_id)
        return ids

    def create_run(self, info):
        self.ensure_experiment(info.workspace_id, info.experiment)
        with self._engine.begin() as conn:
            conn.execute(t.runs.insert().values(**info.__dict__))
        return info

    def get_run(self, run_id):
        return self._one(t.runs.select().where(t.runs.c.id == run_id), RunInfo)

    def update_run(self, run_id, **fields):
        change = RunChange(run_id, fields=fields)   # refuses unknown fields and statuses
        with self._engine.begin() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**change.fields))
        return self.get_run(run_id)

    def find_reusable_run(self, workspace_id, reuse_key):
        q = (t.runs.select().where((t.runs.c.workspace_id == workspace_id)
                                   & (t.runs.c.reuse_key == reuse_key)
                                   & (t.runs.c.status == RunStatus.FINISHED.value)
                                   & (t.runs.c.reused_from.is_(None)))
             .order_by(t.runs.c.created_at.desc()))
        return self._one(q, RunInfo)

    def _mutate_json(self, run_id: str, column: str, change) -> None:
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(t.runs.c[column]).where(t.runs.c.id == run_id)
                               .with_for_update()).first()
            if row is None:
                raise UserErrorException(f"no run with id {run_id}")
            conn.execute(t.runs.update().where(t.runs.c.id == run_id)
                         .values({column: change(dict(row[0] or {}))}))

    def set_tags(self, run_id, tags):
        self._mutate_json(run_id, "tags", lambda cur: {**cur, **tags})

    def remove_tags(self, run_id, keys):
        self._mutate_json(run_id, "tags", lambda cur: {k: v for k, v in cur.items() if k not in keys})

    def add_properties(self, run_id, properties):
        def change(cur):
            for k, v in properties.items():
                if k in cur and cur[k] != v:
                    raise UserErrorException(
                        f"property {k!r} of run {run_id} is already {cur[k]!r}; properties "
                        "cannot be changed once added (use tags for values that change)")
            return {**cur, **properties}
        self._mutate_json(run_id, "properties", change)

    # -- artifacts --------------------------------------------------------------------------
    def put_artifact(self, run_id, name, source):
        self.files.put_artifact(run_id, name, source)

    def list_artifacts(self, run_id):
        return self.files.list_artifacts(run_id)

    def fetch_artifact(self, run_id, name, destination):
        return self.files.fetch_artifact(run_id, name, destination)

    def append_artifact(self, run_id, name, data):
        self.files.append_artifact(run_id, name, data)

    def read_artifact(self, run_id, name, offset=0):
        return self.files.read_artifact(run_id, name, offset)

    # -- models -----------------------------------------------------------------------------
    def register_model(self, info, source):
        # Reserve the version number first, then copy the files into that version's own
        # folder: two registrations never share a folder.
        record = self._insert_next_version(t.models, ModelInfo, info, path=Path(source).name)
        try:
            self.files.store_model_files(info.workspace_id, info.name, record.version, Path(source))
        except BaseException:
            with self._engine.begin() as conn:
                conn.execute(t.models.delete().where(
                    (t.models.c.workspace_id == info.workspace_id) & (t.models.c.name == info.name)
                    & (t.models.c.version == record.version)))
            raise
        return record

    def get_model(self, workspace_id, name, version=None):
        return self._versioned(t.models, ModelInfo, workspace_id, name, version)

    def list_models(self, workspace_id, name=None):
        q = t.models.select().where(t.models.c.workspace_id == workspace_id)
        if name is not None:
            q = q.where(t.models.c.name == name)
        return self._all(q.order_by(t.models.c.name, t.models.c.version.desc()), ModelInfo)

    def update_model(self, workspace_id, name, version, add_tags=None, remove_tags=None,
                     add_properties=None, description=None, add_datasets=None):
        key = ((t.models.c.workspace_id == workspace_id) & (t.models.c.name == name)
               & (t.models.c.version == int(version)))
        with self._engine.begin() as conn:
            row = conn.execute(t.models.select().where(key).with_for_update()).first()
            if row is None:
                raise UserErrorException(f"no model {name}:{version} in this workspace")
            current = _entity(ModelInfo, row)
            tags = {**current.tags, **(add_tags or {})}
            for k in remove_tags or []:
                tags.pop(k, None)
            properties = dict(current.properties)
            for k, v in (add_properties or {}).items():
                if k in properties and properties[k] != v:
                    raise UserErrorException(
                        f"property {k!r} of model {name}:{version} is already {properties[k]!r}; "
                        "properties cannot be changed once added (use tags for values that change)")
                properties[k] = v
            datasets = list(current.datasets or [])
            datasets += [d for d in add_datasets or [] if d not in datasets]
            values = {"tags": tags, "properties": properties, "datasets": datasets}
            if description is not None:
                values["description"] = description
            conn.execute(t.models.update().where(key).values(**values))
        return self.get_model(workspace_id, name, version)

    def fetch_model(self, info, target_dir):
        return self.files.copy_model_out(info.workspace_id, info.name, info.version, info.path,
                                         Path(target_dir))

    # -- environments -----------------------------------------------------------------------
    def register_environment(self, workspace_id, name, definition):
        latest = self.get_environment(workspace_id, name)
        if latest and _canonical(latest.definition) == _canonical(definition):
            return latest      # the common case, without a write transaction
        return self._insert_next_version(t.environments, EnvironmentInfo, EnvironmentInfo(
            workspace_id=workspace_id, name=name, version=0, definition=definition),
            same=lambda latest: _canonical(latest.definition) == _canonical(definition))

    def get_environment(self, workspace_id, name, version=None):
        return self._versioned(t.environments, EnvironmentInfo, workspace_id, name, version)

    def list_environments(self, workspace_id):
        return self._all(t.environments.select().where(t.environments.c.workspace_id == workspace_id)
                         .order_by(t.environments.c.name, t.environments.c.version.desc()),
                         EnvironmentInfo)

    # -- published pipelines ----------------------------------------------------------------
    def put_pipeline(self, info):
        with self._engine.begin() as conn:
            conn.execute(t.published_pipelines.insert().values(**info.__dict__))
        return info

    def get_pipeline(self, pipeline_id):
        return self._one(t.published_pipelines.select().where(t.published_pipelines.c.id == pipeline_id),
                         PublishedPipelineInfo)

    def list_pipelines(self, workspace_id):
        return self._all(t.published_pipelines.select()
                         .where(t.published_pipelines.c.workspace_id == workspace_id)
                         .order_by(t.published_pipelines.c.created_at.desc()), PublishedPipelineInfo)

    def set_pipeline_status(self, pipeline_id, status):
        with self._engine.begin() as conn:
            conn.execute(t.published_pipelines.update()
                         .where(t.published_pipelines.c.id == pipeline_id).values(status=status))

    # -- datasets ---------------------------------------------------------------------------
    def register_dataset(self, info, create_new_version=False):
        def same(latest):
            if latest.id == info.id:
                return True  # an identical definition returns the existing version
            if not create_new_version:
                raise UserErrorException(
                    f"There is already a dataset registered under name '{info.name}' (version "
                    f"{latest.version}) with a different definition. Specify "
                    "`create_new_version=True` to register it as a new version")
            return False
        latest = self.get_dataset(info.workspace_id, info.name)
        if latest is not None and same(latest):
            return latest      # the common case, without a write transaction
        return self._insert_next_version(t.datasets, DatasetInfo, info, same=same)

    def get_dataset(self, workspace_id, name, version=None):
        return self._versioned(t.datasets, DatasetInfo, workspace_id, name, version)

    def get_dataset_by_id(self, workspace_id, dataset_id):
        return self._one(t.datasets.select().where(
            (t.datasets.c.workspace_id == workspace_id) & (t.datasets.c.id == dataset_id))
            .order_by(t.datasets.c.version.desc()), DatasetInfo)

    def list_datasets(self, workspace_id):
        return self._all(t.datasets.select().where(t.datasets.c.workspace_id == workspace_id)
                         .order_by(t.datasets.c.name, t.datasets.c.version.desc()), DatasetInfo)

    def update_dataset(self, workspace_id, name, version, description, tags):
        from ..errors import NotFoundError
        key = ((t.datasets.c.workspace_id == workspace_id) & (t.datasets.c.name == name)
               & (t.datasets.c.version == version))
        with self._engine.begin() as conn:
            found = conn.execute(t.datasets.update().where(key).values(
                description=description, tags=dict(tags or {}))).rowcount
        if not found:
            raise NotFoundError(f"dataset {name}:{version} is not registered")
        return self.get_dataset(workspace_id, name, version)

    def unregister_datasets(self, workspace_id, name):
        with self._engine.begin() as conn:
            return conn.execute(t.datasets.delete().where(
                (t.datasets.c.workspace_id == workspace_id) & (t.datasets.c.name == name))).rowcount

    # -- compute targets --------------------------------------------------------------------
    def put_compute_target(self, info):
        with self._engine.begin() as conn:
            key = ((t.compute_targets.c.workspace_id == info.workspace_id)
                   & (t.compute_targets.c.name == info.name))
            lock(conn, "compute_targets", info.workspace_id, info.name)
            conn.execute(t.compute_targets.delete().where(key))
            conn.execute(t.compute_targets.insert().values(**info.__dict__))
        return info

    def get_compute_target(self, workspace_id, name):
        return self._one(t.compute_targets.select().where(
            (t.compute_targets.c.workspace_id == workspace_id) & (t.compute_targets.c.name == name)),
            ComputeTargetInfo)

    def list_compute_targets(self, workspace_id):
        return self._all(t.compute_targets.select().where(t.compute_targets.c.workspace_id == workspace_id)
                         .order_by(t.compute_targets.c.name), ComputeTargetInfo)
