"""Beat as `bi-agent up` runs it: one beat at a time (RedBeat's lock), a standby that takes
over when the active one dies, and a schedule that outlives a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import schedule
from redbeat.schedulers import RedBeatSchedulerEntry

from bi_agent.infra.schedules import update_schedule
from bi_agent.task_queue import BEAT_LOCK_INTERVALS, BEAT_LOCK_KEY, BEAT_TICK_KEY
from tests.worker.conftest import BEAT_INTERVAL_SECONDS, Child, Platform

pytestmark = pytest.mark.faults

ACQUIRED = "beat: Acquired lock"
PROBE = "Sending due task probe"


def entry(platform: Platform, name: str) -> RedBeatSchedulerEntry:
    return RedBeatSchedulerEntry.from_key(RedBeatSchedulerEntry(name, app=platform.celery).key, app=platform.celery)


def wait_until(condition: Callable[[], object], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout}s")
        time.sleep(0.05)


def active_beat(platform: Platform) -> Child:
    beat = platform.start_beat("first-beat")
    beat.wait_for_output(ACQUIRED)
    wait_until(lambda: platform.redis.exists(BEAT_TICK_KEY), "a first tick", 10)
    return beat


def test_second_beat_waits_and_takes_over_when_the_first_dies(platform: Platform) -> None:
    # Due every second: were both beats to tick, each would send it, and the messages would
    # outnumber the runs RedBeat counted (each beat counts from the same last value).
    RedBeatSchedulerEntry("probe", "calculate_kpis", schedule(timedelta(seconds=1)), app=platform.celery).save()
    first = active_beat(platform)
    second = platform.start_beat("second-beat")
    second.wait_for_output("beat: Starting...")
    time.sleep(4 * BEAT_INTERVAL_SECONDS)
    assert ACQUIRED not in second.output() and PROBE not in second.output(), second.tail()
    assert PROBE in first.output()
    assert 0 < platform.redis.pttl(BEAT_LOCK_KEY) <= BEAT_LOCK_INTERVALS * BEAT_INTERVAL_SECONDS * 1000

    first.kill()  # SIGKILL: its lock is not released, it has to expire
    # It expires at most five intervals after the last tick, and the standby tries once an
    # interval (plus some slack for a busy machine).
    second.wait_for_output(ACQUIRED, timeout=(BEAT_LOCK_INTERVALS + 5) * BEAT_INTERVAL_SECONDS)
    second.wait_for_output(PROBE)
    second.stop()

    # A beat counts a run, then sends its message: two beats sending the same run would leave
    # more messages than runs counted; a beat stopped between the two, one run more.
    sent, counted = platform.redis.llen("analytics"), entry(platform, "probe").total_run_count
    assert sent >= 4
    assert sent <= counted <= sent + 2, "one message per due time, from one beat"


def test_restart_keeps_the_changed_schedule_and_its_last_run(platform: Platform) -> None:
    beat = active_beat(platform)
    # Due once an hour, half an hour from now: nothing falls due during the test.
    minute = (datetime.now(UTC).minute + 30) % 60
    with platform.engine.begin() as connection:
        update_schedule(
            connection,
            platform.celery,
            "refresh-analytics",
            enabled=None,
            crontab_expression=f"{minute} * * * *",
            user_id=None,
        )
    before = entry(platform, "refresh-analytics")
    assert before.last_run_at is not None
    beat.stop()
    # While beat is down, the nightly run falls due: as if it last ran two days ago.
    entry(platform, "update-ml-models").reschedule(datetime.now(UTC) - timedelta(days=2))
    restarted_at = datetime.now(UTC)

    beat = platform.start_beat("restarted-beat")
    beat.wait_for_output(ACQUIRED)
    beat.wait_for_output("Sending due task update-ml-models")
    time.sleep(2 * BEAT_INTERVAL_SECONDS)

    after = entry(platform, "refresh-analytics")
    assert after.schedule._orig_minute == str(minute)
    assert after.last_run_at == before.last_run_at
    key = RedBeatSchedulerEntry("refresh-analytics", app=platform.celery).key
    # Its place in RedBeat's schedule follows from that last run, not from the restart.
    assert platform.redis.zscore(after.app.redbeat_conf.schedule_key, key) == pytest.approx(after.score)
    # The run missed while beat was down is sent once, then counts as done.
    assert platform.redis.llen("ml") == 1
    nightly = entry(platform, "update-ml-models")
    assert nightly.last_run_at is not None and nightly.last_run_at >= restarted_at
    assert nightly.due_at > datetime.now(UTC)
