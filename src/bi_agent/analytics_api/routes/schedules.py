"""Schedules: what beat runs when; admins enable, disable or re-time them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Listing
from bi_agent.infra import schedules
from bi_agent.infra.schedules import Schedule
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/schedules", tags=["schedules"])

CanSee = Annotated[Principal, require(Permission.JOBS_RUN)]
CanChange = Annotated[Principal, require(Permission.USERS_MANAGE)]


class SchedulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    crontab: str | None = Field(default=None, max_length=100, description="minute hour day month weekday, UTC")


@router.get("", summary="List schedules")
def list_schedules(principal: CanSee, connections: ConnectionsDep) -> Listing[Schedule]:
    """Each entry with its task, crontab (UTC), whether it is on, and its last and next run."""
    with connections.engine.connect() as connection:
        items = schedules.list_schedules(connection, connections.celery)
    return Listing(items=items, total=len(items))


@router.patch("/{name}", summary="Enable, disable or re-time a schedule")
def patch_schedule(principal: CanChange, connections: ConnectionsDep, name: str, body: SchedulePatch) -> Schedule:
    """Takes effect at beat's next tick, and survives restarts."""
    with connections.engine.begin() as connection:
        schedule = schedules.update_schedule(
            connection,
            connections.celery,
            name,
            enabled=body.enabled,
            crontab_expression=body.crontab,
            user_id=principal.user_id,
        )
    return schedule
