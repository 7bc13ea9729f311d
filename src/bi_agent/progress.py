"""Progress of long work (an import, a training run, a round of retraining): the sink the work
reports to as it goes, and the report a job carries while it runs (a job's `progress`)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

# Called with the stage, how much of it is done and its total (bytes, rows, models).
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """Progress sink for callers that do not report it."""


class ProgressReport(BaseModel):
    """A running job's progress, as its state PROGRESS holds it."""

    stage: str
    done: int
    total: int
    percent: float

    @classmethod
    def of(cls, stage: str, done: int, total: int) -> ProgressReport:
        return cls(stage=stage, done=done, total=total, percent=round(100 * done / total, 1) if total else 100.0)
