"""The class of every task: an outage is retried with backoff, any other error fails the task at
once, and a failure or a retry leaves the task without its values.

Whether an error is an outage (PostgreSQL, Redis or S3 down or busy for now) is decided by
`outages.outage`, for every task alike: a value PostgreSQL refuses or a table of too many
columns would fail the same way on every try, only later.

Celery writes a failed task's exception and traceback to the result backend (what
`AsyncResult.info` and `GET /api/v1/jobs/{id}` show) and to the worker's log ("Task ...
raised unexpected: ValueError(...)"), and a retry's exception and traceback the same way
("Task ... retry: Retry in 2s: ..."). Each is the error as raised here: a domain error as it
is, any other retold by `error_text.value_free`, and never with the errors it was chained to.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.exceptions import TaskPredicate
from celery.utils.time import get_exponential_backoff_interval

from bi_agent.infra import error_text, outages


class PlatformTask(Task):  # type: ignore[misc]
    # Exponential backoff (1, 2, 4... seconds, at most five minutes) with full jitter: each wait
    # is drawn between 0 and its bound, so five tries could all come within a second or two; ten
    # wait about seven minutes in all, and a ten-second outage fails a task once in a billion.
    max_retries = 10
    retry_backoff_max = 300

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except TaskPredicate:
            # Retry, Ignore and Reject steer Celery; a Retry was made value-free by retry().
            raise
        except Exception as error:
            unavailable = outages.outage(error)
            if unavailable is None:
                raise error_text.value_free(error) from None
            wait = get_exponential_backoff_interval(
                factor=1, retries=self.request.retries, maximum=self.retry_backoff_max, full_jitter=True
            )
            raise self.retry(exc=unavailable, countdown=wait) from None

    def retry(self, *args: Any, exc: BaseException | None = None, **kwargs: Any) -> Any:
        """Celery's retry with `exc` value-free; the Retry, or the error once retries run out,
        chained to nothing."""
        try:
            return super().retry(*args, exc=None if exc is None else error_text.value_free(exc), **kwargs)
        except Exception as raised:
            raise raised from None
