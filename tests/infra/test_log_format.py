"""LOG_FORMAT=json: each line one JSON object, uvicorn's lines too, with the active trace's ids."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from bench.servers import http_service

from bi_agent.infra.log_format import JsonFormatter
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
