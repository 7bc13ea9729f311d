"""Every role against every route: each route under /api/v1 names the permission it needs,
and a role gets 403 exactly when `bi.role_permissions` does not grant it.

Routes are found by walking the app, so routes added later are checked without a change here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import text

from bi_agent.http.auth import current_principal, current_session
from tests.analytics_api.conftest import ROLES, Api

PREFIX = "/api/v1"
PUBLIC = {"/api/v1/auth/login"}
# Open to every signed-in user, whatever their roles.
AUTHENTICATION_ONLY = {"/api/v1/me", "/api/v1/auth/refresh", "/api/v1/auth/logout"}
# Would end the roles' sessions for the routes after it (test_sessions.py tries it).
ENDS_SESSION = {"/api/v1/auth/logout"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    dependant: Dependant

    @property
    def permissions(self) -> set[str]:
        return {str(call.required_permission) for call in calls(self.dependant) if hasattr(call, "required_permission")}

    @property
    def authenticates(self) -> bool:
        return bool({current_principal, current_session} & set(calls(self.dependant)))


def calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from calls(dependency)


def endpoints(api: Api) -> list[Endpoint]:
    found: list[Endpoint] = []
    for context in iter_route_contexts(api.app.routes):
        path = str(context.path)
        if isinstance(context.original_route, APIRoute) and path.startswith(PREFIX):
            found.extend(Endpoint(method, path, context.dependant) for method in sorted(context.methods or ()))
    return found


def granted(api: Api) -> dict[str, set[str]]:
    with api.engine.connect() as connection:
        rows = connection.execute(text("SELECT role, permission FROM bi.role_permissions")).all()
    permissions: dict[str, set[str]] = {role: set() for role in ROLES}
    for role, permission in rows:
        permissions.setdefault(role, set()).add(permission)
    return permissions


def plausible_request(endpoint: Endpoint) -> dict[str, Any]:
    """Well-formed enough to get past parsing to the permission check, wrong enough to change nothing."""
    values = {}
    for param in endpoint.dependant.path_params:
        values[param.name] = str(uuid.uuid4()) if param.field_info.annotation is uuid.UUID else "probe_name"
    url = re.sub(r"\{(\w+)(:\w+)?\}", lambda match: values[match.group(1)], endpoint.path)
    request: dict[str, Any] = {"method": endpoint.method, "url": url}
    bodies = endpoint.dependant.body_params
    if any(isinstance(body.field_info, params.Form) for body in bodies):
        request["files"] = {"probe": ("probe.txt", b"", "text/plain")}
    elif bodies:
        request["json"] = {}
    return request


def test_every_route_names_its_permission(api: Api) -> None:
    found = endpoints(api)
    paths = {endpoint.path for endpoint in found}
    assert {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/me", "/api/v1/users", "/api/v1/audit"} <= paths
    for endpoint in found:
        where = f"{endpoint.method} {endpoint.path}"
        if endpoint.path in PUBLIC:
            assert not endpoint.authenticates, f"{where} is meant to be public"
        elif endpoint.path in AUTHENTICATION_ONLY:
            assert endpoint.authenticates and not endpoint.permissions, f"{where} needs a login, nothing more"
        else:
            assert endpoint.permissions, f"{where} has no require(Permission...) dependency"


def test_each_role_gets_403_exactly_without_the_permission(api: Api) -> None:
    permissions = granted(api)
    headers = {role: api.headers(role) for role in ROLES}
    for endpoint in endpoints(api):
        if endpoint.path in PUBLIC:
            continue
        request = plausible_request(endpoint)
        anonymous = api.client.request(**request)
        assert anonymous.status_code == 401, f"{endpoint.method} {endpoint.path} without a token"
        if endpoint.path in ENDS_SESSION:
            continue
        for role in ROLES:
            response = api.client.request(**request, headers=headers[role])
            lacking = endpoint.permissions - permissions[role]
            assert (response.status_code == 403) == bool(lacking), (
                f"{role} on {endpoint.method} {endpoint.path} got {response.status_code}; "
                f"needs {sorted(endpoint.permissions)}, lacks {sorted(lacking)}: {response.text[:300]}"
            )
