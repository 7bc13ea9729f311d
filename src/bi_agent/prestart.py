"""The pre-start step: wait for PostgreSQL, migrate it, and create the first admin unless it exists.

Idempotent, so every start runs it: `bi-agent up` before the platform's processes, and compose's
one-shot `bi-agent migrate --admin` before the services. A database at the revision already and
an admin who exists are left as they are; an existing admin keeps their password.
"""

from __future__ import annotations

from bi_agent.infra import migrations
from bi_agent.infra.db import create_database_engine, wait_for_database
from bi_agent.security.users import AdminBootstrap, ensure_admin
from bi_agent.settings import Settings

# How long a start waits for PostgreSQL to answer (a container may still be starting).
DATABASE_WAIT_SECONDS = 30.0


def run(settings: Settings) -> AdminBootstrap:
    """The whole step, as `bi-agent up` takes it: `migrate` to the latest revision, then `create_admin`."""
    migrate(settings)
    return create_admin(settings)


def migrate(
    settings: Settings, revision: str = "head", *, down: bool = False, wait_seconds: float = DATABASE_WAIT_SECONDS
) -> None:
    """Wait for PostgreSQL, then upgrade it (or with `down`, downgrade it) to `revision`."""
    engine = create_database_engine(settings)
    try:
        wait_for_database(engine, settings, timeout=wait_seconds)
        if down:
            migrations.downgrade(engine, revision)
        else:
            migrations.upgrade(engine, revision)
    finally:
        engine.dispose()


def create_admin(settings: Settings, *, may_generate: bool = True) -> AdminBootstrap:
    """The first admin (BI_AGENT_ADMIN_USERNAME, BI_AGENT_ADMIN_PASSWORD) unless that user exists.
    Without a password one is generated for the caller to show, unless `may_generate` is false
    (see `ensure_admin`)."""
    engine = create_database_engine(settings)
    try:
        with engine.begin() as connection:
            password = settings.bi_agent_admin_password
            return ensure_admin(
                connection,
                settings.bi_agent_admin_username,
                password.get_secret_value() if password is not None else None,
                may_generate=may_generate,
            )
    finally:
        engine.dispose()
