"""Read scopes for tests that call the domain directly, as a request's would be built."""

from __future__ import annotations

import uuid

from bi_agent.security.permissions import Permission, Principal
from bi_agent.security.read_scope import ReadScope

OPERATOR = ReadScope.operator()


def reader(*roles: str, phi: bool = True, min_cell_size: int | None = None) -> ReadScope:
    """A caller holding `roles` (whose row policies apply), with or without phi:read."""
    principal = Principal(
        user_id=uuid.uuid4(),
        username="reader",
        roles=frozenset(roles),
        permissions=frozenset({Permission.PHI_READ.value} if phi else set()),
    )
    return ReadScope(principal=principal, phi_allowed=phi, min_cell_size=min_cell_size)
