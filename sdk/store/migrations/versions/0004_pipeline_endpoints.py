"""Pipeline endpoints: a stable name and URL in front of published pipelines' versions.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_endpoints",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("default_version", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("workspace_id", "name", name="uq_pipeline_endpoint_name"),
    )
    op.create_index("ix_pipeline_endpoints_workspace_id", "pipeline_endpoints", ["workspace_id"])
    op.create_table(
        "pipeline_endpoint_versions",
        sa.Column("endpoint_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("pipeline_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("endpoint_id", "pipeline_id", name="uq_pipeline_endpoint_pipeline"),
    )


def downgrade() -> None:
    op.drop_table("pipeline_endpoint_versions")
    op.drop_table("pipeline_endpoints")
