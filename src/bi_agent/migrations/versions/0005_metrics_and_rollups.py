"""Metrics, the daily rollups that answer them, and KPI snapshots.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

IDENTIFIER = r"'^[a-z][a-z0-9_]{0,62}$'"


def upgrade() -> None:
    op.create_table(
        "metrics",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column(
            "dataset_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("aggregation", sa.Text, nullable=False),
        sa.Column("column_name", sa.Text),
        sa.Column("time_column", sa.Text, nullable=False),
        sa.Column("dimensions", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("filters", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("format", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"name ~ {IDENTIFIER}", name="metrics_name_is_identifier"),
        sa.CheckConstraint(
            "aggregation IN ('count', 'count_distinct', 'sum', 'avg', 'min', 'max')", name="metrics_aggregation"
        ),
        schema="bi",
    )
    op.create_table(
        "rollups",
        sa.Column("view_name", sa.Text, primary_key=True),
        sa.Column(
            "dataset_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("time_column", sa.Text, nullable=False),
        # The bucket of the view: day, or month for answers at month, quarter and year grain.
        sa.Column("grain", sa.Text, nullable=False),
        sa.Column("dimensions", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("measures", postgresql.ARRAY(sa.Text), nullable=False),
        # Days are cut in this zone; a view cut in another zone than the queries' is not used.
        sa.Column("timezone", sa.Text, nullable=False),
        # The dataset's data_version the view holds; NULL until its first refresh.
        sa.Column("data_version", sa.Integer),
        sa.Column("refreshed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("dataset_id", "time_column", "grain", name="rollups_dataset_time_grain_key"),
        sa.CheckConstraint("grain IN ('day', 'month')", name="rollups_grain"),
        schema="bi",
    )
    op.create_table(
        "kpi_snapshots",
        sa.Column(
            "metric_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.metrics.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("grain", sa.Text, primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("value", sa.Float),
        sa.Column("previous_value", sa.Float),
        sa.Column("change_pct", sa.Float),
        sa.Column("data_version", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="bi",
    )


def downgrade() -> None:
    op.drop_table("kpi_snapshots", schema="bi")
    op.execute(
        "DO $$ DECLARE view text; BEGIN FOR view IN SELECT view_name FROM bi.rollups LOOP "
        "EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS analytics.%I', view); END LOOP; END $$"
    )
    op.drop_table("rollups", schema="bi")
    op.drop_table("metrics", schema="bi")
