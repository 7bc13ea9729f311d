"""The Celery app the processes run: `celery -A bi_agent.worker.app worker` and `... beat`."""

from typing import Any

from celery.signals import beat_init

from bi_agent.infra.db import create_database_engine
from bi_agent.infra.schedules import sync_all
from bi_agent.settings import get_settings
from bi_agent.worker.factory import create_celery

app = create_celery(get_settings())


@beat_init.connect  # type: ignore[untyped-decorator]
def load_schedules(sender: Any = None, **_: Any) -> None:
    """Write the schedules kept in PostgreSQL into RedBeat before beat's first tick."""
    engine = create_database_engine(get_settings())
    try:
        with engine.connect() as connection:
            sync_all(connection, app)
    finally:
        engine.dispose()
