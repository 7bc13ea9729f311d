"""Alembic environment: one engine, online migrations only, each in one transaction."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from bi_agent.infra.db import create_database_engine
from bi_agent.settings import get_settings

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    engine = create_database_engine(get_settings())

with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
