"""A job's progress report: the shape its state PROGRESS holds."""

from __future__ import annotations

from bi_agent.progress import ProgressReport


def test_a_report_gives_its_share_done_in_percent_to_a_tenth() -> None:
    report = ProgressReport.of("copy", 1, 3)
    assert report.model_dump() == {"stage": "copy", "done": 1, "total": 3, "percent": 33.3}


def test_a_stage_of_nothing_to_do_is_done() -> None:
    assert ProgressReport.of("parse", 0, 0).percent == 100.0
