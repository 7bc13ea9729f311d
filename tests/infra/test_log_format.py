"""LOG_FORMAT=json: each line one JSON object, uvicorn's lines too, with the active trace's ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.servers import http_service

from bi_agent.infra.log_format import JsonFormatter, log_to_folder
from tests.conftest import EmbeddedStack


def test_a_record_is_one_json_object_with_its_trace() -> None:
    record = logging.LogRecord("bi_agent.catalog", logging.WARNING, __file__, 1, "dataset %s: %d rows", ("x", 3), None)
    record.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    record.span_id = "00f067aa0ba902b7"
    entry = json.loads(JsonFormatter("analytics-api").format(record))
    assert entry["message"] == "dataset x: 3 rows"
    assert (entry["level"], entry["logger"], entry["service"]) == ("WARNING", "bi_agent.catalog", "analytics-api")
    assert (entry["trace_id"], entry["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert entry["time"].endswith("+00:00")
    plain = logging.LogRecord("bi_agent.catalog", logging.INFO, __file__, 1, "no span", (), None)
    assert "trace_id" not in json.loads(JsonFormatter("analytics-api").format(plain))


def test_a_service_logs_json_lines_uvicorns_included(
    embedded: EmbeddedStack, database: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "MINIO_ENDPOINT": embedded.addresses["s3"],
        "MINIO_ROOT_USER": embedded.secrets.s3_access_key,
        "MINIO_ROOT_PASSWORD": embedded.secrets.s3_secret_key,
        "JWT_SECRET": embedded.secrets.jwt_secret,
        "BI_AGENT_HOME": str(tmp_path / "home"),
        "LOG_FORMAT": "json",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log, http_service("bi_agent.analytics_api.app:create_app", "API", log) as (base, _):
        assert httpx.get(f"{base}/api/v1/me").status_code == 401
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON, or this fails
    assert {entry["service"] for entry in entries} == {"analytics-api"}
    access = [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    assert any("/api/v1/me" in entry["message"] and "401" in entry["message"] for entry in access), lines
    assert any(entry["logger"] == "uvicorn.error" for entry in entries), lines


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """The root logger's handlers and level as they were, after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


@pytest.mark.usefixtures("root_handlers")
def test_log_dir_gets_the_lines_as_json_once_however_often_it_is_set_up(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    path = log_to_folder(folder, "celery-worker", "INFO")
    assert path == folder / "celery-worker.log"
    # Celery calls its logging hooks twice (worker and task loggers): still one handler.
    assert log_to_folder(folder, "celery-worker", "INFO") == path
    logging.getLogger("bi_agent.worker").info("task %s done", "import_data")
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(entry["service"], entry["message"]) for entry in entries] == [("celery-worker", "task import_data done")]
    # Moved away by logrotate: the next line starts a new file.
    path.rename(folder / "celery-worker.log.1")
    logging.getLogger("bi_agent.worker").warning("after rotation")
    assert json.loads(path.read_text())["message"] == "after rotation"


@pytest.mark.usefixtures("root_handlers")
def test_a_log_dir_that_cannot_be_written_is_said_and_does_not_stop_the_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    before = list(logging.getLogger().handlers)
    assert log_to_folder(blocker / "logs", "analytics-api", "INFO") is None
    assert logging.getLogger().handlers == before
    assert "LOG_DIR: cannot write" in capsys.readouterr().err
