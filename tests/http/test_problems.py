"""An unexpected error in either HTTP service: a 500 that says nothing of its cause, and log
lines (the 500 handler's and the server's) that name it without the value it failed on."""

from __future__ import annotations

import logging
import traceback

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from bi_agent.errors import UnexpectedError
from bi_agent.http.service import create_service
from tests.conftest import make_settings

VALUE = "MRN-9946928"

router = APIRouter()


@router.get("/fails")
def fails() -> float:
    return float(VALUE)


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
