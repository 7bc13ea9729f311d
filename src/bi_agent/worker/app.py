"""The Celery app the processes run: `celery -A bi_agent.worker.app worker` and `... beat`."""

from bi_agent.settings import get_settings
from bi_agent.worker.factory import create_celery

app = create_celery(get_settings())
