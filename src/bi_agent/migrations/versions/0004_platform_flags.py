"""Platform flags: one-time facts about this installation, such as "the demo was seeded".

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_flags",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="bi",
    )


def downgrade() -> None:
    op.drop_table("platform_flags", schema="bi")
