"""Log lines as JSON (LOG_FORMAT=json, what compose sets): one object a line, with the trace
that was active, so a log line leads to its trace in Jaeger and back.

`bi-agent up` keeps text (LOG_FORMAT=text): its output is read by a person in a terminal.
With LOG_DIR set (compose mounts ./logs/<service> there), every line is also appended as
JSON to <LOG_DIR>/<service>.log, whatever LOG_FORMAT says: a file is read by tools.
Each line carries what the message says and where it came from; messages never hold
values from the data (errors.py), and nothing here adds any.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import Any

from bi_agent.settings import Settings

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


def set_up_logs(settings: Settings, service: str) -> None:
    """What the settings ask of this process's logs: JSON lines (LOG_FORMAT), a file (LOG_DIR).
    Safe to call again: Celery does, once for its own logger and once for its tasks'."""
    if settings.log_format == "json":
        use_json_logs(service, settings.log_level)
    if settings.log_dir is not None:
        log_to_folder(settings.log_dir, service, settings.log_level)


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


def log_to_folder(folder: Path, service: str, level: str) -> Path | None:
    """Also append every line this process logs, as JSON, to `<folder>/<service>.log`;
    return that path, or None when the folder cannot be written.

    WatchedFileHandler because the worker's forked children append to the same file (each
    line one O_APPEND write) and rotation is logrotate's: a moved file is opened again. A
    folder the service may not write (a host folder owned by another user) is said once on
    stderr and the service goes on with its stream logs; logging must not stop a start.
    """
    path = folder / f"{service}.log"
    root = logging.getLogger()
    if any(isinstance(handler, WatchedFileHandler) and handler.baseFilename == str(path) for handler in root.handlers):
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = WatchedFileHandler(path, encoding="utf-8")
    except OSError as error:
        print(f"LOG_DIR: cannot write {path} ({error.strerror}); logging to the console only", file=sys.stderr)
        return None
    handler.setFormatter(JsonFormatter(service))
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.getLevelName(level):
        root.setLevel(level)
    # Servers' loggers that do not pass their lines on to the root (uvicorn.access) get it too.
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers and not logger.propagate:
            logger.addHandler(handler)
    return path
