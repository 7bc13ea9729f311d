"""Log lines as JSON (LOG_FORMAT=json, what compose sets): one object a line, with the trace
that was active, so a log line leads to its trace in Jaeger and back.

`bi-agent up` keeps text (LOG_FORMAT=text): its output is read by a person in a terminal.
Each line carries what the message says and where it came from; messages never hold
values from the data (errors.py), and nothing here adds any.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Loggers that uvicorn and Celery configure with handlers of their own.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "celery.redirected")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC), level, logger, service, message, and
    trace_id/span_id while a span is active (infra/tracing.py puts them on the record)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "message": record.getMessage(),
        }
        for field in ("trace_id", "span_id"):
            value = getattr(record, field, None)
            if value:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_json_logs(service: str, level: str) -> None:
    """Every line this process logs, its own and the server's, as JSON on stderr.

    The platform's own loggers propagate to the root, which gets a handler at `level`
    (without one, Python prints only warnings); the servers' handlers keep their streams
    and get the JSON formatter.
    """
    formatter = JsonFormatter(service)
    root = logging.getLogger()
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in root.handlers):
        root.addHandler(logging.StreamHandler())
    root.setLevel(level)
    handlers = [*root.handlers, *(handler for name in SERVER_LOGGERS for handler in logging.getLogger(name).handlers)]
    for handler in handlers:
        handler.setFormatter(formatter)
