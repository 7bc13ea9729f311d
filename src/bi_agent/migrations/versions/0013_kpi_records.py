"""KPI snapshots keep how many records each value was built from, for small-cell suppression.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for snapshots taken before: HIPAA mode hides those until the next calculation.
    op.add_column("kpi_snapshots", sa.Column("records", sa.BigInteger), schema="bi")
    op.add_column("kpi_snapshots", sa.Column("previous_records", sa.BigInteger), schema="bi")


def downgrade() -> None:
    op.drop_column("kpi_snapshots", "previous_records", schema="bi")
    op.drop_column("kpi_snapshots", "records", schema="bi")
