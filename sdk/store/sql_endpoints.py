"""Pipeline endpoints in the store (SqlStore mixin): a stable name in front of published
pipelines' versions. Versions are strings "0", "1", ... per endpoint (Azure's); the pipeline an
endpoint is created with is version "0" and its default. Names are unique per workspace.

Every change is one transaction (SQLite: ``BEGIN IMMEDIATE``), so two processes adding a version
at once get two different version numbers.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import NotFoundError, UserErrorException
from .entities import utcnow
from .schema import metadata
from .sql_pg import lock

ENDPOINT_STATUSES = ("Active", "Disabled")

pipeline_endpoints = sa.Table(
    "pipeline_endpoints", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("default_version", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("workspace_id", "name", name="uq_pipeline_endpoint_name"),
)

pipeline_endpoint_versions = sa.Table(
    "pipeline_endpoint_versions", metadata,
    sa.Column("endpoint_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("pipeline_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("endpoint_id", "pipeline_id", name="uq_pipeline_endpoint_pipeline"),
)


@dataclass(frozen=True)
class PipelineVersionInfo:
    """One version of an endpoint: a published pipeline's id under a version string."""

    version: str
    pipeline_id: str
    created_at: str = ""


@dataclass(frozen=True)
class PipelineEndpointInfo:
    id: str
    workspace_id: str
    name: str
    description: str | None
    status: str
    default_version: str
    versions: tuple[PipelineVersionInfo, ...]
    created_at: str
    updated_at: str

    def pipeline_id(self, version: str | None = None) -> str | None:
        """The published pipeline of ``version`` (the default when None), else None."""
        wanted = self.default_version if version is None else version
        return next((v.pipeline_id for v in self.versions if v.version == wanted), None)


class PipelineEndpointNameTaken(UserErrorException):
    """Another pipeline endpoint of the workspace has this name."""


def _check_name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise UserErrorException("a pipeline endpoint needs a name of 1-255 characters")
    return name


class PipelineEndpointStore:
    """Mixin of SqlStore (uses its ``_engine``)."""

    # -- reading ----------------------------------------------------------------------------
    def _endpoint_rows(self, conn, where) -> list[PipelineEndpointInfo]:
        rows = conn.execute(pipeline_endpoints.select().where(where)
                            .order_by(pipeline_endpoints.c.created_at.desc())).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        versions: dict = {i: [] for i in ids}
        for v in conn.execute(pipeline_endpoint_versions.select()
                              .where(pipeline_endpoint_versions.c.endpoint_id.in_(ids))).all():
            versions[v.endpoint_id].append(PipelineVersionInfo(v.version, v.pipeline_id, v.created_at))
        return [PipelineEndpointInfo(
            id=r.id, workspace_id=r.workspace_id, name=r.name, description=r.description,
            status=r.status, default_version=r.default_version,
            versions=tuple(sorted(versions[r.id], key=lambda v: int(v.version))),
            created_at=r.created_at, updated_at=r.updated_at) for r in rows]

    def get_pipeline_endpoint(self, endpoint_id: str) -> PipelineEndpointInfo | None:
        with self._engine.connect() as conn:
            found = self._endpoint_rows(conn, pipeline_endpoints.c.id == str(endpoint_id))
        return found[0] if found else None

    def find_pipeline_endpoint(self, workspace_id: str, name: str) -> PipelineEndpointInfo | None:
        """The endpoint of the workspace with this name, else None."""
        with self._engine.connect() as conn:
            found = self._endpoint_rows(conn, (pipeline_endpoints.c.workspace_id == workspace_id)
                                        & (pipeline_endpoints.c.name == str(name)))
        return found[0] if found else None

    def list_pipeline_endpoints(self, workspace_id: str | None = None,
                                active_only: bool = False) -> list[PipelineEndpointInfo]:
        """Endpoints of a workspace (of every workspace when None), newest first."""
        where = sa.true()
        if workspace_id is not None:
            where = where & (pipeline_endpoints.c.workspace_id == workspace_id)
        if active_only:
            where = where & (pipeline_endpoints.c.status == "Active")
        with self._engine.connect() as conn:
            return self._endpoint_rows(conn, where)

    # -- writing ----------------------------------------------------------------------------
    def create_pipeline_endpoint(self, workspace_id: str, name: str, description: str | None,
                                 pipeline_id: str) -> PipelineEndpointInfo:
        """A new Active endpoint whose version "0" (the default) is ``pipeline_id``. Raises
        PipelineEndpointNameTaken when the workspace has an endpoint of that name."""
        _check_name(name)
        now = utcnow()
        endpoint_id = str(uuid.uuid4())
        with self._engine.begin() as conn:
            lock(conn, "pipeline_endpoints", workspace_id, name)
            taken = conn.execute(sa.select(pipeline_endpoints.c.id).where(
                (pipeline_endpoints.c.workspace_id == workspace_id)
                & (pipeline_endpoints.c.name == name))).first()
            if taken is not None:
                raise PipelineEndpointNameTaken(
                    f"PipelineEndpoint already exists with the given name '{name}'. Please "
                    "choose a unique value.")
            conn.execute(pipeline_endpoints.insert().values(
                id=endpoint_id, workspace_id=workspace_id, name=name, description=description,
                status="Active", default_version="0", created_at=now, updated_at=now))
            conn.execute(pipeline_endpoint_versions.insert().values(
                endpoint_id=endpoint_id, version="0", pipeline_id=pipeline_id, created_at=now))
        return self.get_pipeline_endpoint(endpoint_id)

    def update_pipeline_endpoint(self, endpoint_id: str, *, name: str | None = None,
                                 description: str | None = None, status: str | None = None,
                                 default_version: str | None = None) -> PipelineEndpointInfo:
        """Change the given fields (None keeps one). A default version must exist; a name must
        be free in the workspace."""
        with self._engine.begin() as conn:
            row = self._locked_endpoint(conn, endpoint_id)
            values: dict = {}
            if name is not None and name != row.name:
                _check_name(name)
                lock(conn, "pipeline_endpoints", row.workspace_id, name)
                taken = conn.execute(sa.select(pipeline_endpoints.c.id).where(
                    (pipeline_endpoints.c.workspace_id == row.workspace_id)
                    & (pipeline_endpoints.c.name == name))).first()
                if taken is not None:
                    raise PipelineEndpointNameTaken(
                        f"PipelineEndpoint already exists with the given name '{name}'. Please "
                        "choose a unique value.")
                values["name"] = name
            if description is not None:
                values["description"] = description
            if status is not None:
                if status not in ENDPOINT_STATUSES:
                    raise UserErrorException(f"pipeline endpoint status {status!r} is not one of "
                                             f"{', '.join(ENDPOINT_STATUSES)}")
                values["status"] = status
            if default_version is not None:
                known = self._version_rows(conn, endpoint_id)
                if str(default_version) not in known:
                    raise UserErrorException(
                        f"Cannot set version {default_version}, does not exist in pipeline "
                        f"endpoint {endpoint_id}. Known versions: {', '.join(known)}")
                values["default_version"] = str(default_version)
            if values:
                conn.execute(pipeline_endpoints.update().where(pipeline_endpoints.c.id == row.id)
                             .values(**values, updated_at=utcnow()))
        return self.get_pipeline_endpoint(endpoint_id)

    def add_pipeline_endpoint_version(self, endpoint_id: str, pipeline_id: str,
                                      make_default: bool = False) -> PipelineEndpointInfo:
        """Add ``pipeline_id`` as the next version (max + 1, as Azure computes it); the new
        version becomes the default when ``make_default``. A pipeline already in the endpoint
        raises UserErrorException."""
        now = utcnow()
        with self._engine.begin() as conn:
            row = self._locked_endpoint(conn, endpoint_id)
            known = self._version_rows(conn, endpoint_id)
            if pipeline_id in known.values():
                raise UserErrorException(
                    f"Cannot add pipeline , pipeline id {pipeline_id} exists in PipelineEndpoint "
                    f"{{{endpoint_id}}}")
            version = str(max((int(v) for v in known), default=-1) + 1)
            conn.execute(pipeline_endpoint_versions.insert().values(
                endpoint_id=row.id, version=version, pipeline_id=pipeline_id, created_at=now))
            values = {"updated_at": now}
            if make_default:
                values["default_version"] = version
            conn.execute(pipeline_endpoints.update().where(pipeline_endpoints.c.id == row.id)
                         .values(**values))
        return self.get_pipeline_endpoint(endpoint_id)

    def delete_pipeline_endpoints(self, workspace_id: str) -> None:
        """Remove every endpoint of a workspace (when the workspace is deleted)."""
        with self._engine.begin() as conn:
            ids = [r.id for r in conn.execute(sa.select(pipeline_endpoints.c.id).where(
                pipeline_endpoints.c.workspace_id == workspace_id)).all()]
            if ids:
                conn.execute(pipeline_endpoint_versions.delete().where(
                    pipeline_endpoint_versions.c.endpoint_id.in_(ids)))
                conn.execute(pipeline_endpoints.delete().where(pipeline_endpoints.c.id.in_(ids)))

    @staticmethod
    def _locked_endpoint(conn, endpoint_id):
        row = conn.execute(pipeline_endpoints.select()
                           .where(pipeline_endpoints.c.id == str(endpoint_id))
                           .with_for_update()).first()
        if row is None:
            raise NotFoundError(f"no pipeline endpoint with id {endpoint_id}")
        return row

    @staticmethod
    def _version_rows(conn, endpoint_id) -> dict:
        """``{version: pipeline id}`` of an endpoint."""
        rows = conn.execute(sa.select(pipeline_endpoint_versions.c.version,
                                      pipeline_endpoint_versions.c.pipeline_id)
                            .where(pipeline_endpoint_versions.c.endpoint_id == str(endpoint_id))).all()
        return {r.version: r.pipeline_id for r in sorted(rows, key=lambda r: int(r.version))}
