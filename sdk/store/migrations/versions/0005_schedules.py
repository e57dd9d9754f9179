"""Schedules of published pipelines and pipeline endpoints, and their firings.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("pipeline_id", sa.String(64), index=True),
        sa.Column("pipeline_endpoint_id", sa.String(64), index=True),
        sa.Column("experiment_name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recurrence", sa.JSON),
        sa.Column("datastore_name", sa.String(255)),
        sa.Column("path_on_datastore", sa.Text),
        sa.Column("polling_interval", sa.Integer),
        sa.Column("data_path_parameter_name", sa.String(255)),
        sa.Column("continue_on_step_failure", sa.Boolean),
        sa.Column("pipeline_parameters", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("evaluated_until", sa.String(32)),
    )
    op.create_table(
        "schedule_firings",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule_id", sa.String(64), nullable=False, index=True),
        sa.Column("decided_at", sa.String(32), nullable=False),
        sa.Column("due_at", sa.String(32)),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(128), index=True),
        sa.Column("data_path", sa.Text),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "schedule_files",
        sa.Column("schedule_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("signature", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedule_files")
    op.drop_table("schedule_firings")
    op.drop_table("schedules")
