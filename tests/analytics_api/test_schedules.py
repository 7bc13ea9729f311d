"""Schedules: kept in PostgreSQL, mirrored into RedBeat, changed by admins at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redbeat.schedulers import RedBeatSchedulerEntry

from bi_agent.infra.schedules import sync_all
from bi_agent.task_queue import create_celery
from tests.analytics_api.conftest import Api


def test_list_change_and_mirror_into_redbeat(api: Api) -> None:
    celery = create_celery(api.settings)
    # New entries (a shared Redis may keep some from an earlier run, whose last run is long past).
    for name, task in (("refresh-analytics", "refresh_analytics_views"), ("update-ml-models", "update_ml_models")):
        celery.backend.client.delete(RedBeatSchedulerEntry(name, task, app=celery).key)
    with api.engine.connect() as connection:
        assert sync_all(connection, celery) == 2
    listed = api.client.get("/api/v1/schedules", headers=api.headers("analyst"))
    assert listed.status_code == 200, listed.text
    entries = {item["name"]: item for item in listed.json()["items"]}
    assert entries["refresh-analytics"]["crontab"] == "0 * * * *"
    assert entries["refresh-analytics"]["task"] == "refresh_analytics_views"
    assert entries["update-ml-models"]["crontab"] == "0 2 * * *"
    # The next whole hour and the next 02:00 UTC, from now: never in the past.
    now = datetime.now(UTC)
    next_hour = datetime.fromisoformat(entries["refresh-analytics"]["next_run_at"])
    assert now < next_hour <= now + timedelta(hours=1, seconds=5)
    assert (next_hour.minute, next_hour.second) == (0, 0)
    next_night = datetime.fromisoformat(entries["update-ml-models"]["next_run_at"])
    assert now < next_night <= now + timedelta(days=1, seconds=5)
    assert (next_night.hour, next_night.minute) == (2, 0)
    # A run missed while beat was down is due at once, not at a time in the past.
    key = RedBeatSchedulerEntry("update-ml-models", "update_ml_models", app=celery).key
    RedBeatSchedulerEntry.from_key(key, app=celery).reschedule(now - timedelta(days=3))
    listed = api.client.get("/api/v1/schedules", headers=api.headers("analyst")).json()
    (overdue,) = [item for item in listed["items"] if item["name"] == "update-ml-models"]
    assert now <= datetime.fromisoformat(overdue["next_run_at"]) <= datetime.now(UTC)

    key = RedBeatSchedulerEntry("refresh-analytics", "refresh_analytics_views", app=celery).key
    off = api.client.patch("/api/v1/schedules/refresh-analytics", headers=api.headers("admin"), json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["next_run_at"] is None
    assert not celery.backend.client.exists(key)

    on = api.client.patch(
        "/api/v1/schedules/refresh-analytics",
        headers=api.headers("admin"),
        json={"enabled": True, "crontab": "*/15  *  * * *"},
    )
    assert on.status_code == 200, on.text
    assert on.json()["crontab"] == "*/15 * * * *"
    entry = RedBeatSchedulerEntry.from_key(key, app=celery)
    assert entry.schedule._orig_minute == "*/15"
    with api.engine.connect() as connection:
        sync_all(connection, celery)  # a beat restart keeps the admin's change
    assert RedBeatSchedulerEntry.from_key(key, app=celery).schedule._orig_minute == "*/15"


def test_bad_changes_and_permissions(api: Api) -> None:
    assert api.client.get("/api/v1/schedules", headers=api.headers("viewer")).status_code == 403
    patch = {"enabled": False}
    assert (
        api.client.patch("/api/v1/schedules/refresh-analytics", headers=api.headers("analyst"), json=patch).status_code
        == 403
    )
    missing = api.client.patch("/api/v1/schedules/nope", headers=api.headers("admin"), json=patch)
    assert missing.status_code == 404 and missing.json()["detail"] == "no schedule named 'nope'"
    for bad, message in (("* * *", "needs 5 fields"), ("99 * * * *", "crontab '99 * * * *'")):
        response = api.client.patch(
            "/api/v1/schedules/refresh-analytics", headers=api.headers("admin"), json={"crontab": bad}
        )
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]
