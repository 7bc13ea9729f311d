"""Every list route of both services takes its page from the one bounded dependency: an offset
or a limit out of bounds is a 422 naming it, never a 500.

Routes are found by walking the apps, so a list route added later is checked without a change here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant

from bi_agent.http.pages import MAX_OFFSET, Page
from bi_agent.ml_service.app import create_app as create_ml_service
from tests.analytics_api.conftest import Api, open_api
from tests.analytics_api.test_route_permissions import Endpoint, calls, endpoints, plausible_request
from tests.conftest import EmbeddedStack

pytestmark = [
    pytest.mark.parametrize("postgres", ["postgres18"], indirect=True),
    pytest.mark.parametrize("redis_url", ["valkey"], indirect=True),
]
PAGE_PARAMETERS = {"limit", "offset"}
OUT_OF_BOUNDS = [
    ({"offset": str(2**63)}, [["query", "offset"]]),
    ({"offset": str(MAX_OFFSET + 1), "limit": "-1"}, [["query", "limit"], ["query", "offset"]]),
    ({"limit": "1000001"}, [["query", "limit"]]),
]


def query_parameters(endpoint: Endpoint) -> set[str]:
    return {param.alias for dependant in _dependants(endpoint.dependant) for param in dependant.query_params}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _dependants(dependency)


def takes_page(endpoint: Endpoint) -> bool:
    return any(inspect.signature(call).return_annotation is Page for call in calls(endpoint.dependant) if call)


def test_every_list_route_refuses_a_page_out_of_bounds(api: Api, embedded: EmbeddedStack, redis_url: str) -> None:
    with open_api(embedded, str(api.settings.database_url), redis_url, create=create_ml_service) as ml:
        checked = []
        for service in (api, ml):
            for endpoint in endpoints(service):
                where = f"{endpoint.method} {endpoint.path}"
                if not PAGE_PARAMETERS & query_parameters(endpoint):
                    continue
                # Paged by hand, a route would bound its page its own way, or not at all.
                assert takes_page(endpoint), f"{where} reads limit or offset without the paging dependency"
                request = plausible_request(endpoint)
                for params, locations in OUT_OF_BOUNDS:
                    reply = service.client.request(**request, params=params, headers=service.headers("admin"))
                    assert reply.status_code == 422, f"{where} {params}: {reply.status_code} {reply.text[:300]}"
                    assert sorted(error["loc"] for error in reply.json()["errors"]) == locations, reply.text
                checked.append(where)
    assert {"GET /api/v1/datasets/{name}/rows", "GET /api/v1/audit", "GET /api/v1/models"} <= set(checked)
