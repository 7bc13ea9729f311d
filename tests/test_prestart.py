"""The pre-start step on an empty database: run again, it changes nothing."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from bi_agent import prestart
from bi_agent.errors import ConfigurationError
from bi_agent.infra import migrations
from bi_agent.security.passwords import verify_password
from tests.conftest import make_settings


def test_a_second_run_keeps_the_revision_and_the_admin_s_password(empty_database: str) -> None:
    first = prestart.run(make_settings(database_url=empty_database, bi_agent_admin_password=SecretStr("first pw 123")))
    again = prestart.run(make_settings(database_url=empty_database, bi_agent_admin_password=SecretStr("other pw 456")))
    assert (first.created, again.created) == (True, False)
    assert first.generated_password is None and again.generated_password is None
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            password_hash = connection.execute(
                text("SELECT password_hash FROM bi.users WHERE username = 'admin'")
            ).scalar_one()
        head = ScriptDirectory.from_config(migrations.alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()
    assert revision == head
    assert verify_password("first pw 123", password_hash)


def test_without_a_password_an_admin_is_made_up_only_where_it_may_be_shown(empty_database: str) -> None:
    settings = make_settings(database_url=empty_database)
    prestart.migrate(settings)
    with pytest.raises(ConfigurationError, match="BI_AGENT_ADMIN_PASSWORD is empty"):
        prestart.create_admin(settings, may_generate=False)
    assert prestart.create_admin(settings).generated_password is not None
    assert prestart.create_admin(settings, may_generate=False).created is False
