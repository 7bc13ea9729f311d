"""The audit log, read with filters: who did what, when, to which dataset and columns, and why.

Needs `audit:read`. Reading the log is itself recorded (`audit.read`), without the
filters used.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from bi_agent.http.audit_context import RequestInfoDep
from bi_agent.http.auth import ConnectionsDep, require
from bi_agent.http.pages import Listing, PageDep
from bi_agent.security import audit
from bi_agent.security.audit import AuditFilter, Outcome
from bi_agent.security.permissions import Permission, Principal

router = APIRouter(prefix="/audit", tags=["audit"])

Auditor = Annotated[Principal, require(Permission.AUDIT_READ)]


class AuditRecordReply(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int = Field(description="The record's place in the hash chain, from 1, without gaps")
    occurred_at: datetime
    user_id: uuid.UUID | None
    username: str | None
    roles: list[str]
    action: str
    resource: str | None = Field(description="What was acted on, e.g. user:<id>, role:<name>, a route")
    dataset: str | None
    columns: list[str] = Field(description="The columns the action touched; names only, never values")
    phi: bool = Field(description="The action touched PHI columns")
    purpose: str | None = Field(description="The purpose of use declared with X-Purpose")
    request_id: str | None
    client_address: str | None
    outcome: Outcome
    details: dict[str, Any] = Field(description="What changed or why it failed, by action; never a PHI value")
    prev_hash: str = Field(description="The previous record's hash; 64 zeros for the first")
    hash: str = Field(description="SHA-256 of this record's canonical form, prev_hash included")


@router.get("", summary="List audit records, newest first")
def list_audit_records(
    principal: Auditor,
    connections: ConnectionsDep,
    info: RequestInfoDep,
    page: PageDep,
    user: Annotated[str | None, Query(max_length=128, description="A username or a user id")] = None,
    action: Annotated[str | None, Query(max_length=63, description="e.g. auth.login, user.roles, query")] = None,
    dataset: Annotated[str | None, Query(max_length=63)] = None,
    outcome: Outcome | None = None,
    since: Annotated[
        datetime | None, Query(description="From this time on, included (ISO-8601; UTC if no zone)")
    ] = None,
    until: Annotated[datetime | None, Query(description="Before this time, excluded")] = None,
    phi: Annotated[bool | None, Query(description="Only records that did (true) or did not (false) touch PHI")] = None,
) -> Listing[AuditRecordReply]:
    """Records matching every filter given, a page at a time, with the total. Each carries its
    hash and the previous record's; `bi-agent audit verify` checks the whole chain."""
    filters = AuditFilter(user=user, action=action, dataset=dataset, outcome=outcome, since=since, until=until, phi=phi)
    with connections.engine.begin() as connection:
        listed = audit.list_records(connection, filters, limit=page.limit, offset=page.offset)
        audit.record_access(connection, principal, info, action=audit.Action.AUDIT_READ)
    return Listing(items=[AuditRecordReply.model_validate(entry) for entry in listed.items], total=listed.total)
