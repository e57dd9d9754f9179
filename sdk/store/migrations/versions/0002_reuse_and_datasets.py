"""Step reuse (a reuse key and the run reused) and registered datasets.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("reuse_key", sa.String(64)))
        batch.add_column(sa.Column("reused_from", sa.String(128)))
        batch.create_index("ix_runs_reuse_key", ["reuse_key"])
    op.create_table(
        "datasets",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_datasets_id", "datasets", ["id"])


def downgrade() -> None:
    op.drop_table("datasets")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_reuse_key")
        batch.drop_column("reused_from")
        batch.drop_column("reuse_key")
