"""Reads of PHI-bearing datasets in HIPAA mode: a declared purpose of use, and an audit record.

A dataset bears PHI when one of its columns is flagged. In HIPAA mode every read of such
a dataset (a row preview, a query, its profile) needs the caller to say why (header
`X-Purpose`, e.g. TREAT, PAYMENT, OPERATIONS or a ticket number) and is recorded, with
the PHI columns it touched, before anything is read: a record that cannot be written
means nothing is served. Outside HIPAA mode nothing here applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import Engine

from bi_agent.errors import PermissionDeniedError
from bi_agent.security import audit
from bi_agent.security.permissions import Principal


class PhiRead(NamedTuple):
    """What one read takes of one dataset: its PHI columns, and those whose values it shows."""

    dataset: str
    phi_columns: list[str]
    touched: list[str]


def check_phi_reads(
    engine: Engine,
    principal: Principal,
    request: audit.RequestInfo,
    reads: Iterable[PhiRead],
    *,
    hipaa_mode: bool,
    action: str,
    resource: str,
) -> None:
    """`check_phi_read` for each dataset a query-like read (a query, a forecast) takes rows of."""
    for read in reads:
        check_phi_read(
            engine,
            principal,
            request,
            hipaa_mode=hipaa_mode,
            action=action,
            resource=resource,
            dataset=read.dataset,
            phi_columns=read.phi_columns,
            touched=read.touched,
        )


def check_phi_read(
    engine: Engine,
    principal: Principal,
    request: audit.RequestInfo,
    *,
    hipaa_mode: bool,
    action: str,
    dataset: str,
    phi_columns: Sequence[str],
    touched: Sequence[str] = (),
    resource: str | None = None,
) -> None:
    """Refuse a read without a purpose, else record it; `touched` are the PHI columns whose
    values the read shows or groups by (none when they are masked)."""
    if not hipaa_mode or not phi_columns:
        return
    if not request.purpose:
        raise PermissionDeniedError(
            f"dataset {dataset} holds PHI: in HIPAA mode reading it needs a purpose of use; "
            "send the header X-Purpose (for example TREAT, PAYMENT, OPERATIONS or a ticket number)"
        )
    # Its own short transaction: the next audit append waits for this one's commit.
    with engine.begin() as connection:
        audit.record_access(
            connection,
            principal,
            request,
            action=action,
            resource=resource,
            dataset=dataset,
            columns=touched,
            phi=True,
        )
