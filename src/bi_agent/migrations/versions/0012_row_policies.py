"""Row policies: per role and dataset, filters ANDed into every read of the dataset's rows.

A policy change moves the catalog epoch (migration 0009) like any other change to who
may see what, so no answer kept under the old policy is served again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "row_policies",
        sa.Column("role", sa.Text, sa.ForeignKey("bi.roles.name", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "dataset_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.datasets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        # A list of query filters, {"dimension", "op", "value"}, all of which a row must meet.
        sa.Column("filters", postgresql.JSONB, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="bi",
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER bump_catalog_epoch AFTER INSERT OR DELETE OR UPDATE ON bi.row_policies "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bi.bump_catalog_epoch()"
    )


def downgrade() -> None:
    op.drop_table("row_policies", schema="bi")
