"""A NUL byte in any text a request carries, which PostgreSQL cannot store, is a 422 naming the
field on every route of both services: in a query's filter, a body's text field, a form field,
a file's name, a query parameter, a path, and a forecast's filter."""

from __future__ import annotations

from typing import Any

import pytest

from bi_agent.ml_service.app import create_app as create_ml_service
from tests.analytics_api.conftest import Api, open_api
from tests.conftest import EmbeddedStack

pytestmark = [
    pytest.mark.parametrize("postgres", ["postgres18"], indirect=True),
    pytest.mark.parametrize("redis_url", ["valkey"], indirect=True),
]
NUL = "no\u0000rth"
FILTERS = [
    {"dimension": "region", "op": "eq", "value": "south"},
    {"dimension": "region", "op": "in", "value": ["a", NUL]},
]


def refused(api: Api, method: str, url: str, **request: Any) -> list[list[str | int]]:
    headers = {**api.headers("admin"), **request.pop("headers", {})}
    reply = api.client.request(method, url, headers=headers, **request)
    assert reply.status_code == 422, f"{method} {url}: {reply.status_code} {reply.text[:300]}"
    body = reply.json()
    assert body["title"] == "Invalid request" and "NUL" in body["detail"] and "\u0000" not in reply.text, body
    return [error["loc"] for error in body["errors"]]


def test_a_nul_byte_anywhere_in_a_request_is_a_422_naming_it(api: Api, embedded: EmbeddedStack, redis_url: str) -> None:
    query = {"metric": "revenue", "start": "2024-01-01", "end": "2024-07-01", "filters": FILTERS}
    assert refused(api, "POST", "/api/v1/query", json=query) == [["body", "filters", 1, "value", 1]]
    metric = {"name": "revenue", "dataset": "sales", "aggregation": "count", "time_column": "day", "description": NUL}
    assert refused(api, "POST", "/api/v1/metrics", json=metric) == [["body", "description"]]
    assert refused(api, "GET", "/api/v1/metrics", params={"dataset": NUL}) == [["query", "dataset"]]
    assert refused(api, "GET", "/api/v1/metrics/no%00rth") == [["path", "name"]]
    # Written out: httpx would percent-encode the NUL of the file's name.
    form = (
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nno\x00rth\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="sales\x00.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nday\n2024-01-01\n\r\n--b--\r\n"
    )
    upload = {"content": form, "headers": {"Content-Type": "multipart/form-data; boundary=b"}}
    assert refused(api, "POST", "/api/v1/datasets", **upload) == [["body", "name"], ["body", "file", "filename"]]
    with open_api(embedded, str(api.settings.database_url), redis_url, create=create_ml_service) as ml:
        forecast = {"metric": "revenue", "horizon": 3, "filters": FILTERS}
        assert refused(ml, "POST", "/api/v1/forecast", json=forecast) == [["body", "filters", 1, "value", 1]]
