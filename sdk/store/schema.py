"""Table definitions (SQLAlchemy Core). The migrations under ``migrations/versions`` create them;
this module only describes them for queries."""
from __future__ import annotations

import json

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Integer, MetaData, String, Table, Text,
                        TypeDecorator, UniqueConstraint)

metadata = MetaData()

workspaces = Table(
    "workspaces", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("subscription_id", String(128), nullable=False),
    Column("resource_group", String(128), nullable=False),
    Column("location", String(64), nullable=False),
    Column("default_datastore", String(255), nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("subscription_id", "resource_group", "name", name="uq_workspace_scope"),
)

datastores = Table(
    "datastores", metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("url", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("options", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
)

experiments = Table(
    "experiments", metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("archived_time", String(32)),
)

runs = Table(
    "runs", metadata,
    Column("id", String(128), primary_key=True),
    Column("workspace_id", String(64), nullable=False, index=True),
    Column("experiment", String(255), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("name", String(255)),
    Column("parent_id", String(128), index=True),
    Column("target", String(255), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("started_at", String(32)),
    Column("ended_at", String(32)),
    Column("tags", JSON, nullable=False),
    Column("properties", JSON, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("error", JSON),
    Column("reuse_key", String(64), index=True),
    Column("reused_from", String(128)),
)

class JsonText(TypeDecorator):
    """A value kept as its JSON text in a text column (NaN and the infinities included, which
    PostgreSQL's json type refuses): the metrics' values on PostgreSQL (migration 0001)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return json.dumps(value)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


metrics = Table(
    "metrics", metadata,
    Column("seq", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True,
           autoincrement=True),
    Column("run_id", String(128), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", JSON().with_variant(JsonText(), "postgresql")),
    Column("step", Integer().with_variant(BigInteger(), "postgresql")),
    Column("created_at", String(32), nullable=False),
)

models = Table(
    "models", metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("path", Text, nullable=False),
    Column("run_id", String(128)),
    Column("description", Text),
    Column("tags", JSON, nullable=False),
    Column("properties", JSON, nullable=False),
    Column("framework", String(64)),
    Column("framework_version", String(64)),
    Column("created_at", String(32), nullable=False),
    Column("datasets", JSON, nullable=False),
)

environments = Table(
    "environments", metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
)

published_pipelines = Table(
    "published_pipelines", metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("version", String(64)),
    Column("status", String(16), nullable=False),
    Column("continue_on_step_failure", Boolean, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
)

compute_targets = Table(
    "compute_targets", metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("config", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
)

datasets = Table(
    "datasets", metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("id", String(64), nullable=False, index=True),
    Column("definition", JSON, nullable=False),
    Column("description", Text),
    Column("tags", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
)
