"""`/health` on both HTTP services: all ok, a dependency down (503 naming it), and recovery."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bi_agent.analytics_api.app import create_app as create_analytics_api
from bi_agent.infra.embedded import EmbeddedValkey
from bi_agent.infra.objects import create_s3_client, ensure_buckets
from bi_agent.infra.ports import free_port
from bi_agent.ml_service.app import create_app as create_ml_service
from bi_agent.settings import Settings
from tests.conftest import EmbeddedStack

SERVICES: dict[str, Callable[[Settings], FastAPI]] = {
    "analytics-api": create_analytics_api,
    "ml-service": create_ml_service,
}


@pytest.fixture(params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> Callable[[Settings], FastAPI]:
    return SERVICES[request.param]


@pytest.fixture(scope="module")
def stack(embedded: EmbeddedStack) -> EmbeddedStack:
    settings = embedded.settings()
    ensure_buckets(create_s3_client(settings), settings.buckets)
    return embedded


def test_all_dependencies_ok(
    stack: EmbeddedStack, database: str, redis_url: str, service: Callable[[Settings], FastAPI]
) -> None:
    settings = stack.settings(database_url=database, redis_url=redis_url)
    with TestClient(service(settings)) as client:
        response = client.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgres", "redis", "s3"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert isinstance(check["latency_ms"], float)


def test_database_down_is_503_naming_postgres(stack: EmbeddedStack, service: Callable[[Settings], FastAPI]) -> None:
    closed = free_port()
    settings = stack.settings(
        database_url=f"postgresql://bi:db-secret@127.0.0.1:{closed}/analytics_db",
        db_connect_timeout_seconds=1,
    )
    with TestClient(service(settings)) as client:
        response = client.get("/health")
        assert client.get("/livez").json() == {"status": "ok"}
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["postgres"]
    assert body["checks"]["postgres"]["status"] == "fail"
    assert body["checks"]["redis"]["status"] == "ok"
    assert "db-secret" not in response.text


@pytest.fixture
def private_valkey(tmp_path: Path) -> Iterator[EmbeddedValkey]:
    server = EmbeddedValkey(tmp_path, "a-test-password")
    yield server
    server.stop()


def test_redis_stopped_then_back(
    stack: EmbeddedStack, private_valkey: EmbeddedValkey, service: Callable[[Settings], FastAPI]
) -> None:
    address = private_valkey.start()
    settings = stack.settings(redis_url=address)
    with TestClient(service(settings)) as client:
        assert client.get("/health").status_code == 200

        private_valkey.stop()
        down = client.get("/health")
        assert down.status_code == 503
        assert down.json()["failing"] == ["redis"]
        assert down.json()["checks"]["redis"]["status"] == "fail"
        assert down.json()["checks"]["redis"]["error"]

        # The same service, not restarted, sees Redis again.
        assert private_valkey.start() == address
        back = client.get("/health")
        assert back.status_code == 200, back.text
        assert back.json()["checks"]["redis"]["status"] == "ok"


def test_errors_are_problem_details(stack: EmbeddedStack, service: Callable[[Settings], FastAPI]) -> None:
    with TestClient(service(stack.settings())) as client:
        response = client.get("/api/v1/no-such-route")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no route GET /api/v1/no-such-route",
        "errors": [],
    }


def test_openapi_and_docs_are_served(stack: EmbeddedStack, service: Callable[[Settings], FastAPI]) -> None:
    with TestClient(service(stack.settings())) as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    assert {"/health", "/livez"} <= set(schema["paths"])


def test_metrics_time_requests_by_route_template(stack: EmbeddedStack, service: Callable[[Settings], FastAPI]) -> None:
    with TestClient(service(stack.settings())) as client:
        client.get("/livez")
        client.get("/api/v1/no-such-route/with-a-secret-id")
        text = client.get("/metrics").text
    assert "bi_agent_http_request_duration_seconds_bucket" in text
    assert 'route="/livez"' in text
    assert 'route="unmatched"' in text
    assert "with-a-secret-id" not in text
    assert "bi_agent_rows_imported_total" in text
