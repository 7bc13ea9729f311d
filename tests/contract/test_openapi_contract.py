"""The contract: each service's /openapi.json describes every reply it gives.

Schemathesis generates requests from each operation's declared parameters and bodies and
sends them as an admin; a reply fails the test when it is a 5xx, has a status the operation
does not declare, or does not match the declared schema or media type. Generated names
rarely exist, so a set of known-good calls on seeded data checks the success replies too.
The examples per operation are bounded and derandomized: the same requests every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bi_agent.catalog import metrics
from tests.analytics_api.conftest import Api, open_api
from tests.catalog.conftest import Importer
from tests.conftest import EmbeddedStack

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 12
# Operations whose generated calls would end the admin's own access or wait on a worker that
# is not running here; their replies are checked by the known-good calls and their own tests.
SKIPPED = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/datasets")}

pytestmark = [
    pytest.mark.parametrize("postgres", ["postgres18"], indirect=True),
    pytest.mark.parametrize("redis_url", ["valkey"], indirect=True),
]

VISITS = b"visit_date,region,charges\n2024-01-05,north,10.5\n2024-01-20,south,4\n2024-02-03,north,7.25\n"


@pytest.fixture
def analytics(embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    from bi_agent.analytics_api.app import create_app

    with open_api(embedded, database, redis_url, create=create_app) as opened:
        yield opened


@pytest.fixture
def ml(embedded: EmbeddedStack, database: str, redis_url: str) -> Iterator[Api]:
    from bi_agent.ml_service.app import create_app

    with open_api(embedded, database, redis_url, create=create_app) as opened:
        yield opened


def fuzz(api: Api) -> list[str]:
    """Every operation, EXAMPLES_PER_OPERATION generated calls each; the failures, described."""
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(app=api.app, headers=api.headers("admin"))
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as error:
            failures.append(f"{operation.method.upper()} {operation.path}: {_described(error)}")
    # A run that never got past authentication, or never reached a route's own code, checked nothing.
    assert statuses[401] < statuses.total() / 2, statuses
    assert any(200 <= status < 300 for status in statuses), statuses
    print(f"{api.app.title}: {statuses.total()} generated calls, by status {dict(sorted(statuses.items()))}")
    return failures


def known_good(api: Api, calls: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Each call, made as the admin, must succeed and match its operation's declared reply."""
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    failures = []
    for method, path, fields in calls:
        response = api.client.request(method, path, headers=api.headers("admin"), **fields)
        if not response.is_success:
            failures.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
            continue
        template = _template(schema, method, path)
        if template is None:
            failures.append(f"{method} {path}: no operation of the spec matches")
            continue
        operation, parameters = template
        case = operation.Case(path_parameters=parameters)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as error:
            failures.append(f"{method} {path}: {_described(error)}")
    return failures


def _described(error: BaseException) -> str:
    """A failure in a few lines: each distinct check that failed, with what it saw."""
    causes = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
    return "; ".join(str(cause).strip().replace("\n", " ")[:400] for cause in causes)


def _template(schema: Any, method: str, path: str) -> tuple[Any, dict[str, str]] | None:
    """The operation whose path template matches `path`, and its path parameters."""
    parts = path.split("?", maxsplit=1)[0].strip("/").split("/")
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != method:
            continue
        template = operation.path.strip("/").split("/")
        if len(template) != len(parts):
            continue
        parameters: dict[str, str] = {}
        for expected, actual in zip(template, parts, strict=True):
            if expected.startswith("{") and expected.endswith("}"):
                parameters[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            return operation, parameters
    return None


def seed(api: Api, load: Importer) -> None:
    """A dataset and a metric on it, so that known-good calls have something to read."""
    load("visits", "visits.csv", VISITS)
    definition = metrics.MetricDefinition(
        name="total_charges",
        dataset="visits",
        aggregation="sum",
        column="charges",
        time_column="visit_date",
        dimensions=["region"],
    )
    with api.engine.begin() as connection:
        metrics.create_metric(connection, definition, None, api.settings.reporting_timezone, phi_allowed=True)


def test_the_analytics_api_gives_only_declared_replies(analytics: Api, load: Importer) -> None:
    seed(analytics, load)
    query = {"metric": "total_charges", "start": "2024-01-01", "end": "2024-03-01", "group_by": ["region"]}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/health", {}),
        ("GET", "/livez", {}),
        ("GET", "/api/v1/me", {}),
        ("GET", "/api/v1/users", {}),
        ("GET", "/api/v1/roles", {}),
        ("GET", "/api/v1/datasets", {}),
        ("GET", "/api/v1/datasets/visits", {}),
        ("GET", "/api/v1/datasets/visits/rows", {}),
        ("GET", "/api/v1/metrics", {}),
        ("GET", "/api/v1/metrics/total_charges", {}),
        ("POST", "/api/v1/query", {"json": query}),
        ("POST", "/api/v1/query", {"json": {**query, "compare": "previous_period"}}),
        ("GET", "/api/v1/kpis", {}),
        ("GET", "/api/v1/jobs", {}),
        ("GET", "/api/v1/schedules", {}),
        ("GET", "/api/v1/dashboards", {}),
        ("GET", "/api/v1/row-policies", {}),
        ("GET", "/api/v1/audit", {}),
    ]
    failures = known_good(analytics, calls) + fuzz(analytics)
    assert not failures, "\n\n".join(failures)


def test_the_ml_service_gives_only_declared_replies(ml: Api, load: Importer) -> None:
    seed(ml, load)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/health", {}),
        ("GET", "/livez", {}),
        ("GET", "/api/v1/models", {}),
    ]
    failures = known_good(ml, calls) + fuzz(ml)
    assert not failures, "\n\n".join(failures)
