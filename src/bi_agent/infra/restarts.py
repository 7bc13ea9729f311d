"""When `bi-agent up` starts a dead process again, and when it stops trying.

One rule for the embedded servers and the platform's processes: a process that dies is
started again after a delay that doubles with each quick failure in a row (a death within
`quick_seconds` of its start), and is given up after `give_up_after` of them, since a
process that dies that soon each time will not come back by itself (a bad setting, a port
taken, a missing file). A process that ran longer than that before it died has its count
cleared: it starts again after the first delay, as if it had never failed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 0.5
    max_delay: float = 30.0
    quick_seconds: float = 60.0
    give_up_after: int = 5

    def delay(self, quick_failures: int) -> float:
        return min(self.max_delay, self.first_delay * 2.0**quick_failures)


DEFAULT_RESTART_POLICY = RestartPolicy()


@dataclass
class Restarts:
    """One process's record under a policy: `started` at each start, `died` at each death."""

    policy: RestartPolicy
    started_at: float
    quick_failures: int = 0
    # When a dead process may start again; None while it runs.
    due_at: float | None = None

    def started(self, now: float) -> None:
        self.started_at = now
        self.due_at = None

    def died(self, now: float) -> float | None:
        """Note the death; the seconds to wait before the next start, or None to give up."""
        quick = now - self.started_at < self.policy.quick_seconds
        self.quick_failures = self.quick_failures + 1 if quick else 0
        if self.quick_failures >= self.policy.give_up_after:
            return None
        delay = self.policy.delay(self.quick_failures)
        self.due_at = now + delay
        return delay

    @property
    def waiting(self) -> bool:
        return self.due_at is not None

    def due(self, now: float) -> bool:
        return self.due_at is not None and now >= self.due_at
