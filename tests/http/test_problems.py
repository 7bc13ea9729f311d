"""An unexpected error in either HTTP service: a 500 that says nothing of its cause, and log
lines (the 500 handler's and the server's) that name it without the value it failed on. An
outage of a dependency: a 503 with Retry-After."""

from __future__ import annotations

import logging
import traceback

import psycopg
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from psycopg import errors
from sqlalchemy.exc import DataError

from bi_agent.errors import UnexpectedError
from bi_agent.http.service import create_service
from tests.conftest import make_settings

VALUE = "MRN-9946928"

router = APIRouter()


@router.get("/fails")
def fails() -> float:
    return float(VALUE)


@router.get("/refused")
def refused() -> None:
    raise DataError("SELECT", {}, errors.InvalidTextRepresentation(f'invalid input syntax for type integer: "{VALUE}"'))


@router.get("/lost")
def lost() -> None:
    raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")


def test_a_500_logs_no_value(caplog: pytest.LogCaptureFixture) -> None:
    app = create_service("analytics-api", "API", "an unexpected error", [router], make_settings())
    caplog.set_level(logging.ERROR)
    reply = TestClient(app, raise_server_exceptions=False).get("/api/v1/fails")
    assert reply.status_code == 500 and VALUE not in reply.text
    # What the server logs ("Exception in ASGI application") is what the app raises to it.
    with pytest.raises(UnexpectedError) as raised:
        TestClient(app).get("/api/v1/fails")
    told = "".join(traceback.format_exception(raised.value))
    assert "ValueError: could not convert string to float" in told and "float(VALUE)" in told
    formatter = logging.Formatter()
    records = [formatter.format(record) for record in caplog.records]
    assert any("unhandled error on GET /api/v1/fails" in record for record in records), records
    assert not any(VALUE in record for record in [told, *records])


def test_an_outage_is_a_503_and_a_refused_value_a_500() -> None:
    client = TestClient(
        create_service("ml-service", "ML", "outages", [router], make_settings()), raise_server_exceptions=False
    )
    lost = client.get("/api/v1/lost")
    assert lost.status_code == 503 and lost.headers["retry-after"] == "5", lost.text
    assert lost.headers["content-type"] == "application/problem+json"
    assert lost.json()["detail"] == "PostgreSQL is unavailable for now (OperationalError: consuming input failed)"
    refused = client.get("/api/v1/refused")
    assert refused.status_code == 500 and "retry-after" not in refused.headers and VALUE not in refused.text
