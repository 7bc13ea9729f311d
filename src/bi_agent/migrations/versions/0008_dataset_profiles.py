"""Dataset profiles: per column nulls, distinct values, min, max and a histogram.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_profiles",
        sa.Column(
            "dataset_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.datasets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("data_version", sa.Integer, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("columns", postgresql.JSONB, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="bi",
    )


def downgrade() -> None:
    op.drop_table("dataset_profiles", schema="bi")
