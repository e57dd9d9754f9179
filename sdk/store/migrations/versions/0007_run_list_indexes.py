"""Indexes for run lists that stay flat as the store grows: newest first by (created_at, id)
within a workspace or one of its experiments, top-level runs (no parent) or all, and the runs
not yet finished (found and settled before a list is shown); and a run's metric by name, so
``get_metrics(name=...)`` stays flat beside a million values of another metric.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    # the workspace's top-level runs, newest first (`amlocal run list`, the page, the read API)
    "ix_runs_ws_top_created": ["workspace_id", "parent_id", "created_at", "id"],
    # an experiment's top-level runs, newest first (Experiment.get_runs, `run list -e`)
    "ix_runs_ws_exp_top_created": ["workspace_id", "experiment", "parent_id", "created_at", "id"],
    # every run of a workspace / an experiment, newest first (include_children)
    "ix_runs_ws_created": ["workspace_id", "created_at", "id"],
    "ix_runs_ws_exp_created": ["workspace_id", "experiment", "created_at", "id"],
    # runs by status (the unfinished ones are settled before a list is shown; status filters)
    "ix_runs_ws_status": ["workspace_id", "status"],
}


METRIC_INDEXES = {"ix_metrics_run_name": ["run_id", "name"]}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "runs", columns)
    for name, columns in METRIC_INDEXES.items():
        op.create_index(name, "metrics", columns)


def downgrade() -> None:
    for name in METRIC_INDEXES:
        op.drop_index(name, table_name="metrics")
    for name in INDEXES:
        op.drop_index(name, table_name="runs")
