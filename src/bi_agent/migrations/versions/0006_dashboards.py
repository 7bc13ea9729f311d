"""Dashboards: tiles of charts over metric queries, owned by a user and shared with roles.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        # The tiles as the API validated them; each query is checked again when it runs.
        sa.Column("tiles", postgresql.JSONB, nullable=False, server_default="[]"),
        # A dashboard outlives its owner's account; admins can still change it.
        sa.Column("owner_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="dashboards_name_length"),
        sa.CheckConstraint("jsonb_typeof(tiles) = 'array'", name="dashboards_tiles_is_array"),
        schema="bi",
    )
    op.create_index("dashboards_owner_id", "dashboards", ["owner_id"], schema="bi")
    op.create_table(
        "dashboard_shares",
        sa.Column(
            "dashboard_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.dashboards.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.Text, sa.ForeignKey("bi.roles.name", ondelete="CASCADE"), primary_key=True),
        schema="bi",
    )


def downgrade() -> None:
    op.drop_table("dashboard_shares", schema="bi")
    op.drop_table("dashboards", schema="bi")
