"""Why a metric's KPIs could not be calculated, the last time they were, for the KPI cards.

A row stands while the metric's last calculation failed, with the reason told without values
(infra/error_text.py), and goes when one succeeds; the other metrics' KPIs are stored anyway.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_errors",
        sa.Column(
            "metric_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.metrics.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="bi",
    )


def downgrade() -> None:
    op.drop_table("kpi_errors", schema="bi")
