"""The class of every task: a failure or a retry leaves the task without its values.

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

from bi_agent.infra import error_text


class ValueFreeTask(Task):  # type: ignore[misc]
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except TaskPredicate:
            # Retry, Ignore and Reject steer Celery; a Retry was made value-free by retry().
            raise
        except Exception as error:
            raise error_text.value_free(error) from None

    def retry(self, *args: Any, exc: BaseException | None = None, **kwargs: Any) -> Any:
        """Celery's retry (autoretry_for calls it with the transient error), with that error
        value-free; the Retry, or the error once retries run out, chained to nothing."""
        try:
            return super().retry(*args, exc=None if exc is None else error_text.value_free(exc), **kwargs)
        except Exception as raised:
            raise raised from None
