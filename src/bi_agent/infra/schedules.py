"""Beat schedules: rows of `bi.schedules` mirrored into RedBeat's entries in Redis.

PostgreSQL holds the truth (so a change outlives Redis and restarts); beat syncs the
entries when it starts, and a change through the API rewrites its entry at once,
which the running beat reads on its next tick. A disabled schedule has no entry.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from celery.schedules import crontab
from pydantic import BaseModel, ConfigDict, Field
from redbeat.schedulers import RedBeatSchedulerEntry
from sqlalchemy import Connection, text

from bi_agent.errors import InvalidInputError, NotFoundError

CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


class Schedule(BaseModel):
    """A schedule as beat runs it."""

    model_config = ConfigDict(frozen=True)

    name: str
    task: str = Field(description="The task beat sends")
    crontab: str = Field(description="minute hour day month weekday, UTC")
    enabled: bool
    description: str
    last_run_at: datetime | None = Field(description="null when disabled or never run")
    next_run_at: datetime | None = Field(description="null when disabled; now when a run is overdue")


def parse_crontab(expression: str) -> crontab:
    fields = expression.split()
    if len(fields) != len(CRONTAB_FIELDS):
        raise InvalidInputError(
            f"crontab {expression[:60]!r} needs 5 fields: minute hour day-of-month month day-of-week"
        )
    try:
        schedule = crontab(**dict(zip(CRONTAB_FIELDS, fields, strict=True)))
    except (ValueError, TypeError) as error:
        raise InvalidInputError(f"crontab {expression[:60]!r}: {error}") from None
    return schedule


def _entry(celery: Celery, row: Any) -> RedBeatSchedulerEntry:
    return RedBeatSchedulerEntry(row.name, row.task, parse_crontab(row.crontab), app=celery)


def sync_entry(celery: Celery, row: Any) -> None:
    entry = _entry(celery, row)
    if not row.enabled:
        entry.delete()
        return
    # An entry keeps its last run, so neither a beat restart nor a changed crontab repeats a
    # run or skips one that fell due meanwhile (it runs once, at once). A new entry counts as
    # run now, so a daily job does not fire the moment beat starts.
    last_run_at = RedBeatSchedulerEntry.load_meta(entry.key, app=celery)["last_run_at"]
    entry.last_run_at = last_run_at or datetime.now(UTC)
    entry.save()


def sync_all(connection: Connection, celery: Celery) -> int:
    rows = connection.execute(text("SELECT name, task, crontab, enabled FROM bi.schedules")).all()
    for row in rows:
        sync_entry(celery, row)
    return len(rows)


def _rows(connection: Connection, name: str | None = None) -> list[Any]:
    return list(
        connection.execute(
            text(
                "SELECT name, task, crontab, enabled, description FROM bi.schedules "
                "WHERE CAST(:name AS text) IS NULL OR name = :name ORDER BY name"
            ),
            {"name": name},
        ).all()
    )


def _with_runs(celery: Celery, row: Any) -> Schedule:
    last_run_at = next_run_at = None
    if row.enabled:
        try:
            entry = RedBeatSchedulerEntry.from_key(_entry(celery, row).key, app=celery)
        except KeyError:
            entry = None
        if entry is not None and entry.last_run_at is not None:
            last_run_at = entry.last_run_at
            # Not RedBeat's `due_at`, which adds the wait from *now* to the last run and so
            # tells a time in the past for an hourly job (it is only a wake-up hint). The next
            # fire after the last run; one missed while beat was down is due at once.
            start, wait, _ = entry.schedule.remaining_delta(last_run_at)
            next_run_at = max(start + wait, datetime.now(UTC))
    return Schedule(
        name=row.name,
        task=row.task,
        crontab=row.crontab,
        enabled=row.enabled,
        description=row.description,
        last_run_at=last_run_at,
        next_run_at=next_run_at,
    )


def list_schedules(connection: Connection, celery: Celery) -> list[Schedule]:
    return [_with_runs(celery, row) for row in _rows(connection)]


def update_schedule(
    connection: Connection,
    celery: Celery,
    name: str,
    *,
    enabled: bool | None,
    crontab_expression: str | None,
    user_id: uuid.UUID | None,
) -> Schedule:
    if crontab_expression is not None:
        parse_crontab(crontab_expression)
        crontab_expression = " ".join(crontab_expression.split())
    updated = connection.execute(
        text(
            "UPDATE bi.schedules SET enabled = coalesce(:enabled, enabled), crontab = coalesce(:crontab, crontab), "
            "updated_by = :user, updated_at = now() WHERE name = :name RETURNING name, task, crontab, enabled, "
            "description"
        ),
        {"enabled": enabled, "crontab": crontab_expression, "user": user_id, "name": name},
    ).first()
    if updated is None:
        raise NotFoundError(f"no schedule named {name!r}")
    sync_entry(celery, updated)
    return _with_runs(celery, updated)
