"""Experiment tags and archived state; dataset references of registered models.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("tags", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("archived_time", sa.String(32)))
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("datasets", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("datasets")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("archived_time")
        batch.drop_column("tags")
