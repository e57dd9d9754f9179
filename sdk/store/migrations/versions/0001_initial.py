"""The initial schema.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(128), nullable=False),
        sa.Column("resource_group", sa.String(128), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("default_datastore", sa.String(255), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("subscription_id", "resource_group", "name", name="uq_workspace_scope"),
    )
    op.create_table(
        "datastores",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "experiments",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("experiment", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("parent_id", sa.String(128)),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("started_at", sa.String(32)),
        sa.Column("ended_at", sa.String(32)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON),
    )
    op.create_index("ix_runs_workspace_id", "runs", ["workspace_id"])
    op.create_index("ix_runs_experiment", "runs", ["experiment"])
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])
    # PostgreSQL: 64-bit numbers as SQLite's, and each value's JSON text kept as text (its
    # json type refuses NaN and Infinity, which metrics may hold); SQLite: unchanged
    op.create_table(
        "metrics",
        sa.Column("seq", sa.Integer().with_variant(sa.BigInteger(), "postgresql"),
                  primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.JSON().with_variant(sa.Text(), "postgresql")),
        sa.Column("step", sa.Integer().with_variant(sa.BigInteger(), "postgresql")),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_metrics_run_id", "metrics", ["run_id"])
    op.create_table(
        "models",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(128)),
        sa.Column("description", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("framework", sa.String(64)),
        sa.Column("framework_version", sa.String(64)),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "environments",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "published_pipelines",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("version", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("continue_on_step_failure", sa.Boolean, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_published_pipelines_workspace_id", "published_pipelines", ["workspace_id"])
    op.create_table(
        "compute_targets",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("compute_targets", "published_pipelines", "environments", "models", "metrics",
                  "runs", "experiments", "datastores", "workspaces"):
        op.drop_table(table)
