"""Who may see PHI through a metric, and reads of PHI-bearing datasets in HIPAA mode.

A metric whose own definition shows values of a PHI column is a PHI metric (`metric_phi_columns`):
defining, changing and querying it, and reading its KPIs, need `phi:read`, in HIPAA mode
and out of it. It is decided from the columns' flags at the moment of the check, so a
column flagged later makes its metrics PHI metrics at once.

A dataset bears PHI when one of its columns is flagged. In HIPAA mode every read of such
a dataset (a row preview, a query, its profile) needs the caller to say why (header
`X-Purpose`, e.g. TREAT, PAYMENT, OPERATIONS or a ticket number) and is recorded, with
the PHI columns it touched, before anything is read: a record that cannot be written
means nothing is served. Outside HIPAA mode nothing here applies.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Engine

from bi_agent.errors import PermissionDeniedError
from bi_agent.security import audit
from bi_agent.security.permissions import Principal

# Aggregations of a column that are summaries of many records whatever the records: how many
# there are, how many distinct values. Every other one (min, max, sum, avg) can be one record's
# value: min and max always are, a sum or an average is as soon as the rows are narrowed to one.
COUNTING_AGGREGATIONS = ("count", "count_distinct")
# Of those, the ones whose value is one record's value on any rows.
ROW_VALUE_AGGREGATIONS = ("min", "max")


def metric_phi_columns(
    *,
    aggregation: str,
    column: str | None,
    time_column: str,
    filter_columns: Iterable[str],
    phi_columns: Collection[str],
) -> dict[str, str]:
    """The PHI columns whose values a metric's definition shows, whoever queries it, each with
    how: min and max are one record's value, a sum or an average can be (outside HIPAA mode
    no small-cell rule stops a query narrowed to one record); a filter's answer tells whether a
    value occurs; a time column gives a value per date. Only counts and distinct counts of a
    PHI column are aggregates whatever the rows, left to small-cell suppression."""
    shown: dict[str, str] = {}
    if aggregation not in COUNTING_AGGREGATIONS and column is not None and column in phi_columns:
        verb = "is" if aggregation in ROW_VALUE_AGGREGATIONS else "can be"
        shown[column] = f"its {aggregation} {verb} one record's value"
    for name in filter_columns:
        if name in phi_columns:
            shown.setdefault(name, "it filters on its values")
    if time_column in phi_columns:
        shown.setdefault(time_column, "it is the time column, counted per date")
    return shown


def phi_filter_columns(filters: Iterable[Mapping[str, Any]], phi_columns: Collection[str]) -> list[str]:
    """The PHI columns these filters (as stored: `dimension`, `op`, `value`) filter on, once each."""
    return list(dict.fromkeys(item["dimension"] for item in filters if item["dimension"] in phi_columns))


def hide_phi_filter_values(filters: Iterable[Mapping[str, Any]], phi_columns: Collection[str]) -> list[dict[str, Any]]:
    """Filters as a caller without `phi:read` is shown them, wherever they are stored (a metric's
    definition, a dashboard tile's query): a filter on a PHI column keeps its dimension and op,
    and its value is null."""
    return [{**item, "value": None} if item["dimension"] in phi_columns else dict(item) for item in filters]


def check_metric_phi(metric: str, shown: dict[str, str], *, phi_allowed: bool) -> None:
    """Refuse a PHI metric (`metric_phi_columns` not empty) to a caller without `phi:read`,
    naming the columns and why; never a value."""
    if shown and not phi_allowed:
        reasons = "; ".join(f"{name}: {how}" for name, how in shown.items())
        raise PermissionDeniedError(
            f"metric {metric} shows values of the PHI column {', '.join(shown)} ({reasons}): defining, "
            "changing or reading it needs the permission phi:read, which your roles lack"
        )


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
    action: audit.Action,
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
    action: audit.Action,
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
