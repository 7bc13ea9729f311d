"""The restart rule of `bi-agent up`: the delay doubles while a process keeps dying soon after
its start, it is given up after a few such deaths in a row, and a steady run clears the count."""

from __future__ import annotations

from bi_agent.infra.restarts import RestartPolicy, Restarts


def test_delay_doubles_on_quick_failures_gives_up_and_resets_after_a_steady_run() -> None:
    policy = RestartPolicy(first_delay=0.5, max_delay=3.0, quick_seconds=60.0, give_up_after=4)
    restarts = Restarts(policy, started_at=0.0)
    now = 0.0
    delays = []
    for _ in range(3):
        now += 1.0
        delay = restarts.died(now)
        assert delay is not None
        assert restarts.waiting and not restarts.due(now) and restarts.due(now + delay)
        delays.append(delay)
        now += delay
        restarts.started(now)
        assert not restarts.waiting
    assert delays == [1.0, 2.0, 3.0]

    # Up for longer than quick_seconds, then dead: as if it had never failed.
    now += 61.0
    assert restarts.died(now) == 0.5
    restarts.started(now)
    for expected in (1.0, 2.0, 3.0):
        now += 1.0
        assert restarts.died(now) == expected
        restarts.started(now)
    # The fourth quick failure in a row: given up.
    assert restarts.died(now + 1.0) is None
