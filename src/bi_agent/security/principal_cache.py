"""Callers' principals kept in memory while the catalog epoch stands still.

Every request needs the caller's roles and permissions; reading them from PostgreSQL
each time costs more than a cached query itself. Any change to users, roles or
permissions moves the epoch (migration 0009), which empties this cache, so a role
change or a disabled account still applies to the very next request. With the epoch
unknown (PostgreSQL unreachable), nothing is kept.
"""

from __future__ import annotations

import uuid

from bi_agent.security.permissions import Principal

MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(self) -> None:
        self._epoch: str | None = None
        self._entries: dict[uuid.UUID, Principal | None] = {}

    def get(self, user_id: uuid.UUID, epoch: str | None) -> tuple[bool, Principal | None]:
        """(found, principal); a None principal found is an unknown or disabled account."""
        if epoch is None or epoch != self._epoch or user_id not in self._entries:
            return False, None
        return True, self._entries[user_id]

    def put(self, user_id: uuid.UUID, epoch: str | None, principal: Principal | None) -> None:
        """Keep what was read under `epoch`, the value heard *before* the read."""
        if epoch is None:
            return
        if epoch != self._epoch or len(self._entries) >= MAX_ENTRIES:
            self._entries = {}
            self._epoch = epoch
        self._entries[user_id] = principal
