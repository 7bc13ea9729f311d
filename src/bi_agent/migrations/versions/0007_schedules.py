"""Beat schedules: what runs when, kept in PostgreSQL so an admin's change survives restarts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schedules = op.create_table(
        "schedules",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("task", sa.Text, nullable=False),
        # Five crontab fields, minute hour day-of-month month day-of-week, in UTC.
        sa.Column("crontab", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="bi",
    )
    op.bulk_insert(
        schedules,
        [
            {
                "name": "refresh-analytics",
                "task": "refresh_analytics_views",
                "crontab": "0 * * * *",
                "description": "Refresh stale rollups hourly; the KPIs follow",
            },
            {
                "name": "update-ml-models",
                "task": "update_ml_models",
                "crontab": "0 2 * * *",
                "description": "Retrain models whose data changed, daily at 02:00 UTC",
            },
        ],
    )


def downgrade() -> None:
    op.drop_table("schedules", schema="bi")
