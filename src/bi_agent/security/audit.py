"""The audit log: an append-only, hash-chained record of who did what, when and why.

Each record names the user and their roles, the action, the resource, the dataset and
the columns touched, whether they hold PHI, the declared purpose, the request id, the
client address and the outcome. It never holds a PHI value: names of datasets and
columns and ids only, never a request body, a query's filter values or a row. The one
piece of personal data is the username a failed login attempted, which is kept as
auth logs keep it (it may be mistyped, even a password typed into the wrong field,
which is why only `audit:read` sees the log).

Chain: each record's `hash` is SHA-256 over its canonical serialization (JSON, sorted
keys, no spaces, UTF-8, times as `YYYY-MM-DDTHH:MM:SS.ffffffZ`) including the previous
record's hash (`prev_hash`, 64 zeros for the first). Appends lock the single head row
`bi.audit_chain` (SELECT ... FOR UPDATE) until their transaction ends, so two writers
can never fork the chain, sequence numbers have no gaps and times follow the chain
(taken from the database clock under the lock). An append is two statements; keep
the transaction around it short, since the next append waits for its commit. A record
written in a transaction that rolls back leaves no trace, head included.

Append-only: triggers of migration 0011 refuse UPDATE, DELETE and TRUNCATE for every
role, the table's owner and superusers included. A trigger, not privileges, because
the tests, the embedded mode and many deployments connect as the owner or a
superuser, who hold every privilege. Someone who disables the triggers (or sets
session_replication_role) can still change rows; `verify` then names the first
record that no longer fits. A superuser who rewrites the whole chain from the edit
onwards goes unseen by `verify` alone: anchoring the head hash outside the database
(`bi-agent audit verify` prints it) closes that gap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, column, func, select, table, text

from bi_agent.security.permissions import Principal

GENESIS_HASH = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
ACTION_PATTERN = re.compile(r"[a-z][a-z0-9_.]{0,62}")
# Longest text kept per field; a purpose or a resource is a label, not a document.
MAX_TEXT = 200
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

DetailValue = str | int | bool | None | Sequence[str]


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class Action(StrEnum):
    """The actions the platform records, each under the name the log stores and filters by."""

    LOGIN = "auth.login"
    LOGOUT = "auth.logout"
    PERMISSION_DENIED = "auth.permission_denied"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_ROLES = "user.roles"
    ROLE_CREATE = "role.create"
    ROLE_UPDATE = "role.update"
    ROLE_DELETE = "role.delete"
    AUDIT_READ = "audit.read"
    # Reads of PHI and exports.
    DATASET_ROWS = "dataset.rows"
    DATASET_PROFILE = "dataset.profile"
    QUERY = "query"
    FORECAST = "forecast"
    MODEL_TRAIN = "model.train"
    MODEL_RETRAIN = "model.retrain"
    EXPORT = "export"


@dataclass(frozen=True)
class RequestInfo:
    """Where a request came from and why, as its door saw it (see http/audit_context.py)."""

    request_id: str | None = None
    client_address: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    """What happened. Names and ids only: never a value read from a dataset or a request body."""

    action: Action
    outcome: Outcome = Outcome.SUCCESS
    user_id: uuid.UUID | None = None
    username: str | None = None
    roles: Sequence[str] = ()
    resource: str | None = None
    dataset: str | None = None
    columns: Sequence[str] = ()
    phi: bool = False
    purpose: str | None = None
    request_id: str | None = None
    client_address: str | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    id: uuid.UUID
    occurred_at: datetime
    user_id: uuid.UUID | None
    username: str | None
    roles: tuple[str, ...]
    action: str
    resource: str | None
    dataset: str | None
    columns: tuple[str, ...]
    phi: bool
    purpose: str | None
    request_id: str | None
    client_address: str | None
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditFilter:
    """None leaves a field unfiltered. `user` is a username or a user id."""

    user: str | None = None
    action: str | None = None
    dataset: str | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    phi: bool | None = None


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditRecord]
    total: int


@dataclass(frozen=True)
class ChainHead:
    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class BrokenLink:
    """The first place where the chain no longer fits; record fields are None for a missing tail."""

    seq: int
    record_id: uuid.UUID | None
    occurred_at: datetime | None
    reason: str


def record(connection: Connection, event: AuditEvent) -> AuditRecord:
    """Append `event` in the caller's transaction; it stands or falls with that transaction."""
    if not ACTION_PATTERN.fullmatch(event.action):
        raise ValueError(f"audit action {event.action[:70]!r} must match {ACTION_PATTERN.pattern}")
    head = connection.execute(
        text("SELECT last_seq, last_hash, clock_timestamp() AS now FROM bi.audit_chain FOR UPDATE")
    ).one()
    entry = AuditRecord(
        seq=head.last_seq + 1,
        id=uuid.uuid4(),
        occurred_at=head.now.astimezone(UTC),
        user_id=event.user_id,
        username=_label(event.username),
        roles=tuple(sorted(_label(role) or "" for role in event.roles)),
        action=str(event.action),
        resource=_label(event.resource),
        dataset=_label(event.dataset),
        columns=tuple(_label(column) or "" for column in event.columns),
        phi=event.phi,
        purpose=_label(event.purpose),
        request_id=_label(event.request_id),
        client_address=_label(event.client_address),
        outcome=Outcome(event.outcome).value,
        details=_details(event.details),
        prev_hash=head.last_hash,
        hash="",
    )
    entry = _with_hash(entry)
    connection.execute(
        text(
            "WITH appended AS ("
            " INSERT INTO bi.audit_log (seq, id, occurred_at, user_id, username, roles, action, resource, dataset,"
            " columns, phi, purpose, request_id, client_address, outcome, details, prev_hash, hash)"
            " VALUES (:seq, :id, :occurred_at, :user_id, :username, CAST(:roles AS text[]), :action, :resource,"
            " :dataset, CAST(:columns AS text[]), :phi, :purpose, :request_id, :client_address, :outcome,"
            " CAST(:details AS jsonb), :prev_hash, :hash)"
            " RETURNING seq, hash)"
            " UPDATE bi.audit_chain SET last_seq = appended.seq, last_hash = appended.hash FROM appended"
        ),
        {
            **_fields(entry),
            "roles": list(entry.roles),
            "columns": list(entry.columns),
            "details": json.dumps(entry.details),
        },
    )
    return entry


def record_access(
    connection: Connection,
    principal: Principal,
    request: RequestInfo,
    *,
    action: Action,
    outcome: Outcome = Outcome.SUCCESS,
    resource: str | None = None,
    dataset: str | None = None,
    columns: Sequence[str] = (),
    phi: bool = False,
    purpose: str | None = None,
    details: Mapping[str, DetailValue] | None = None,
) -> AuditRecord:
    """Record what a signed-in caller did: a PHI read, an export, a change. `purpose` defaults to
    the one the request declared (header X-Purpose)."""
    return record(
        connection,
        AuditEvent(
            action=action,
            outcome=outcome,
            user_id=principal.user_id,
            username=principal.username,
            roles=tuple(principal.roles),
            resource=resource,
            dataset=dataset,
            columns=tuple(columns),
            phi=phi,
            purpose=purpose if purpose is not None else request.purpose,
            request_id=request.request_id,
            client_address=request.client_address,
            details=details or {},
        ),
    )


_log = table(
    "audit_log",
    *(
        column(name)
        for name in (
            "seq",
            "id",
            "occurred_at",
            "user_id",
            "username",
            "roles",
            "action",
            "resource",
            "dataset",
            "columns",
            "phi",
            "purpose",
            "request_id",
            "client_address",
            "outcome",
            "details",
            "prev_hash",
            "hash",
        )
    ),
    schema="bi",
)


def list_records(connection: Connection, filters: AuditFilter, limit: int, offset: int) -> AuditPage:
    """Records matching every given filter, newest first, a page at a time, with the total."""
    conditions: list[ColumnElement[bool]] = []
    if filters.user is not None:
        try:
            conditions.append(_log.c.user_id == uuid.UUID(filters.user))
        except ValueError:
            conditions.append(_log.c.username == filters.user.lower())
    if filters.action is not None:
        conditions.append(_log.c.action == filters.action)
    if filters.dataset is not None:
        conditions.append(_log.c.dataset == filters.dataset)
    if filters.phi is not None:
        conditions.append(_log.c.phi == filters.phi)
    if filters.outcome is not None:
        conditions.append(_log.c.outcome == Outcome(filters.outcome).value)
    if filters.since is not None:
        conditions.append(_log.c.occurred_at >= _utc(filters.since))
    if filters.until is not None:
        conditions.append(_log.c.occurred_at < _utc(filters.until))
    rows = connection.execute(
        select(_log).where(*conditions).order_by(_log.c.seq.desc()).limit(limit).offset(offset)
    ).all()
    total = connection.execute(select(func.count()).select_from(_log).where(*conditions)).scalar_one()
    return AuditPage(items=[_record(row) for row in rows], total=total)


def chain_head(connection: Connection) -> ChainHead:
    row = connection.execute(text("SELECT last_seq, last_hash FROM bi.audit_chain")).one()
    return ChainHead(last_seq=row.last_seq, last_hash=row.last_hash)


def verify(connection: Connection, anchor: ChainHead | None = None) -> BrokenLink | None:
    """Recompute the chain from the first record; the first link that does not fit, or None.

    Checks the records up to the head read first: appends committed meanwhile come after
    it and are left for the next run, so verifying beside a busy API reports nothing false.
    The records are streamed, so memory stays flat however long the log is. `anchor`, a
    position and hash printed by an earlier run and kept outside the database, must still
    be in the chain: a chain rewritten from an edit onwards verifies on its own, not
    against its anchor.
    """
    head = chain_head(connection)
    if anchor is not None and anchor.last_seq > head.last_seq:
        return BrokenLink(
            seq=head.last_seq + 1,
            record_id=None,
            occurred_at=None,
            reason=f"the anchored record {anchor.last_seq} is past the chain head ({head.last_seq}): "
            "records were removed",
        )
    expected_seq, expected_prev = 1, GENESIS_HASH
    for entry in _records_up_to(connection, head.last_seq):
        if entry.seq != expected_seq:
            return _broken(entry, f"records {expected_seq} to {entry.seq - 1} are missing")
        if entry.prev_hash != expected_prev:
            return _broken(entry, f"its previous hash does not match the hash of record {entry.seq - 1}")
        if _with_hash(entry).hash != entry.hash:
            return _broken(entry, "its contents do not match its hash: the record was changed")
        if anchor is not None and entry.seq == anchor.last_seq and entry.hash != anchor.last_hash:
            return _broken(entry, "its hash is not the anchored one: the chain was rewritten up to here")
        expected_seq, expected_prev = entry.seq + 1, entry.hash
    if expected_seq <= head.last_seq:
        return BrokenLink(
            seq=expected_seq,
            record_id=None,
            occurred_at=None,
            reason=f"the log ends at record {expected_seq - 1} but the chain head says {head.last_seq}: "
            "records were removed",
        )
    if expected_prev != head.last_hash:
        return BrokenLink(
            seq=head.last_seq,
            record_id=None,
            occurred_at=None,
            reason=f"the chain head's hash does not match record {head.last_seq}",
        )
    return None


def _records_up_to(connection: Connection, last_seq: int) -> Iterator[AuditRecord]:
    result = connection.execution_options(yield_per=1000).execute(
        select(_log).where(_log.c.seq <= last_seq).order_by(_log.c.seq)
    )
    for row in result:
        yield _record(row)


def _broken(entry: AuditRecord, reason: str) -> BrokenLink:
    return BrokenLink(seq=entry.seq, record_id=entry.id, occurred_at=entry.occurred_at, reason=reason)


def _fields(entry: AuditRecord) -> dict[str, Any]:
    """Each field by name, as the record holds it (the one list of them: the dataclass)."""
    return {field.name: getattr(entry, field.name) for field in dataclasses.fields(entry)}


def canonical(entry: AuditRecord) -> bytes:
    """The bytes a record's hash is taken over: every field but the hash itself."""
    payload = {
        **_fields(entry),
        "id": str(entry.id),
        "occurred_at": entry.occurred_at.astimezone(UTC).strftime(TIME_FORMAT),
        "user_id": None if entry.user_id is None else str(entry.user_id),
        "roles": list(entry.roles),
        "columns": list(entry.columns),
    }
    del payload["hash"]
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _with_hash(entry: AuditRecord) -> AuditRecord:
    return replace(entry, hash=hashlib.sha256(canonical(entry)).hexdigest())


def _label(value: str | None) -> str | None:
    """Text as stored: no control characters (PostgreSQL refuses NUL), at most MAX_TEXT long."""
    if value is None:
        return None
    return _CONTROL_CHARACTERS.sub("", value)[:MAX_TEXT]


def _details(details: Mapping[str, DetailValue]) -> dict[str, Any]:
    # Flat and JSON-exact: what jsonb gives back must serialize to the same bytes (no floats).
    cleaned: dict[str, Any] = {}
    for key, value in details.items():
        if value is None or isinstance(value, bool | int):
            cleaned[key] = value
        elif isinstance(value, str):
            cleaned[key] = _label(value)
        elif isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
            cleaned[key] = [_label(item) for item in value]
        else:
            raise ValueError(f"audit detail {key!r} must be text, a whole number, true/false or a list of text")
    return cleaned


def _utc(moment: datetime) -> datetime:
    # Times without a zone are UTC, as everywhere in the API.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        id=row.id,
        occurred_at=row.occurred_at.astimezone(UTC),
        user_id=row.user_id,
        username=row.username,
        roles=tuple(row.roles),
        action=row.action,
        resource=row.resource,
        dataset=row.dataset,
        columns=tuple(row.columns),
        phi=row.phi,
        purpose=row.purpose,
        request_id=row.request_id,
        client_address=row.client_address,
        outcome=row.outcome,
        details=dict(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
