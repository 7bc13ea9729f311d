"""Schemas `bi` and `analytics`, and the extensions the server offers.

`vector` (pgvector) is missing from a plain PostgreSQL such as the machine's own 15;
then the migration warns and goes on, and features that need it say so when used.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

EXTENSIONS = ("uuid-ossp", "pgcrypto", "vector")


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS bi")
    op.execute("CREATE SCHEMA IF NOT EXISTS analytics")
    available = set(
        op.get_bind()
        .execute(
            sa.text("SELECT name FROM pg_available_extensions WHERE name = ANY(:names)"),
            {"names": list(EXTENSIONS)},
        )
        .scalars()
    )
    for extension in EXTENSIONS:
        if extension in available:
            op.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')
        else:
            logger.warning("extension %s is not available on this server; features that need it are off", extension)


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
    op.execute("DROP SCHEMA IF EXISTS bi CASCADE")
    for extension in reversed(EXTENSIONS):
        op.execute(f'DROP EXTENSION IF EXISTS "{extension}"')
