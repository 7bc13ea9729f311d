"""Every role against every route of the ML service, as tests/analytics_api does for its routes:
each route under /api/v1 names the permission it needs, and a role gets 403 exactly when
`bi.role_permissions` does not grant it. Routes are found by walking the app."""

from __future__ import annotations

from tests.analytics_api.conftest import ROLES, Api
from tests.analytics_api.test_route_permissions import endpoints, granted, plausible_request


def test_every_route_names_its_permission(ml: Api) -> None:
    found = endpoints(ml)
    assert {
        ("GET", "/api/v1/models"),
        ("GET", "/api/v1/models/{name}"),
        ("POST", "/api/v1/models/{name}/train"),
        ("POST", "/api/v1/models/{name}/predict"),
        ("POST", "/api/v1/models/{name}/aliases/{alias}"),
        ("DELETE", "/api/v1/models/{name}/versions/{version}"),
        ("POST", "/api/v1/forecast"),
    } <= {(endpoint.method, endpoint.path) for endpoint in found}
    for endpoint in found:
        assert endpoint.permissions, f"{endpoint.method} {endpoint.path} has no require(Permission...) dependency"
        # A forecast reads a metric's history: it is a query, and needs what a query needs.
        assert endpoint.permissions <= {"models:read", "models:train", "models:predict", "queries:run"}


def test_each_role_gets_403_exactly_without_the_permission(ml: Api) -> None:
    permissions = granted(ml)
    headers = {role: ml.headers(role) for role in ROLES}
    for endpoint in endpoints(ml):
        request = plausible_request(endpoint)
        anonymous = ml.client.request(**request)
        assert anonymous.status_code == 401, f"{endpoint.method} {endpoint.path} without a token"
        for role in ROLES:
            response = ml.client.request(**request, headers=headers[role])
            lacking = endpoint.permissions - permissions[role]
            assert (response.status_code == 403) == bool(lacking), (
                f"{role} on {endpoint.method} {endpoint.path} got {response.status_code}; "
                f"needs {sorted(endpoint.permissions)}, lacks {sorted(lacking)}: {response.text[:300]}"
            )
            assert response.status_code < 500, f"{role} on {endpoint.method} {endpoint.path}: {response.text[:300]}"
