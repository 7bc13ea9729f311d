"""Row policies: which rows of a dataset a role may see, as filters on its columns.

A policy belongs to a role and a dataset. A caller's rows of a dataset are those that
meet the filters of *every* policy their roles have on it (the most restrictive reading:
a role granted for one region and another granted for one department sees that region's
department); a caller none of whose roles has a policy on a dataset sees all of it.
Policies are ANDed into every query (from the table or a rollup), row preview and KPI
read, and are part of the cache key, so two callers under different policies never share
an answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import Connection, text

from bi_agent.catalog import datasets
from bi_agent.catalog.filters import check_filter_value
from bi_agent.catalog.query_spec import Filter
from bi_agent.errors import InvalidInputError, NotFoundError

MAX_FILTERS = 20
_FILTERS = TypeAdapter(list[Filter])


class RowPolicy(BaseModel):
    """A role's policy on a dataset."""

    model_config = ConfigDict(frozen=True)

    role: str
    dataset: str
    filters: list[Filter] = Field(description="All must hold for a row to be seen")
    description: str
    updated_at: datetime


_SELECT = (
    "SELECT p.role, d.name AS dataset, p.filters, p.description, p.updated_at "
    "FROM bi.row_policies p JOIN bi.datasets d ON d.id = p.dataset_id "
)


def _policy(row: Any) -> RowPolicy:
    return RowPolicy(
        role=row.role,
        dataset=row.dataset,
        filters=_FILTERS.validate_python(row.filters),
        description=row.description,
        updated_at=row.updated_at,
    )


def list_policies(connection: Connection, dataset: str | None = None) -> list[RowPolicy]:
    clause = "WHERE d.name = :dataset " if dataset is not None else ""
    rows = connection.execute(text(_SELECT + clause + "ORDER BY d.name, p.role"), {"dataset": dataset}).all()
    return [_policy(row) for row in rows]


def set_policy(
    connection: Connection,
    role: str,
    dataset: str,
    filters: list[Filter],
    description: str = "",
    user_id: uuid.UUID | None = None,
) -> RowPolicy:
    """Create or replace the role's policy on the dataset, checked against its columns."""
    if not filters:
        raise InvalidInputError("a row policy needs at least one filter; delete the policy to lift it")
    if len(filters) > MAX_FILTERS:
        raise InvalidInputError(f"a row policy takes at most {MAX_FILTERS} filters")
    exists = connection.execute(text("SELECT 1 FROM bi.roles WHERE name = :role"), {"role": role}).first()
    if exists is None:
        raise NotFoundError(f"no role {role}")
    columns = {column.name: column for column in datasets.get_columns(connection, dataset)}
    for position, item in enumerate(filters):
        column = columns.get(item.dimension)
        if column is None:
            raise InvalidInputError(
                f"filters[{position}]: dataset {dataset} has no column {item.dimension}; it has {', '.join(columns)}"
            )
        check_filter_value(item, column)
    connection.execute(
        text(
            "INSERT INTO bi.row_policies (role, dataset_id, filters, description, updated_by) "
            "SELECT :role, id, CAST(:filters AS jsonb), :description, :user FROM bi.datasets WHERE name = :dataset "
            "ON CONFLICT (role, dataset_id) DO UPDATE SET filters = EXCLUDED.filters, "
            "description = EXCLUDED.description, updated_by = EXCLUDED.updated_by, updated_at = now()"
        ),
        {
            "role": role,
            "dataset": dataset,
            "filters": json.dumps([item.model_dump(mode="json") for item in filters]),
            "description": description,
            "user": user_id,
        },
    )
    return next(policy for policy in list_policies(connection, dataset) if policy.role == role)


def delete_policy(connection: Connection, role: str, dataset: str) -> None:
    deleted = connection.execute(
        text(
            "DELETE FROM bi.row_policies p USING bi.datasets d "
            "WHERE d.id = p.dataset_id AND d.name = :dataset AND p.role = :role"
        ),
        {"role": role, "dataset": dataset},
    ).rowcount
    if not deleted:
        raise NotFoundError(f"role {role} has no row policy on dataset {dataset}")


def filters_for(connection: Connection, roles: Iterable[str], dataset: str) -> list[Filter]:
    """Every filter the caller's roles put on the dataset's rows; empty when none does."""
    rows = connection.execute(
        text(
            "SELECT p.filters FROM bi.row_policies p JOIN bi.datasets d ON d.id = p.dataset_id "
            "WHERE d.name = :dataset AND p.role = ANY(:roles) ORDER BY p.role"
        ),
        {"dataset": dataset, "roles": sorted(roles)},
    ).all()
    try:
        return [item for row in rows for item in _FILTERS.validate_python(row.filters)]
    except ValidationError as error:
        # Written only through set_policy; a hand-edited policy that no longer parses must not open the rows.
        raise InvalidInputError(
            f"a row policy on dataset {dataset} is malformed; an admin must set it again"
        ) from error


def restricted_datasets(connection: Connection, roles: Iterable[str]) -> set[str]:
    """The datasets some of these roles see only part of."""
    rows = connection.execute(
        text(
            "SELECT DISTINCT d.name FROM bi.row_policies p JOIN bi.datasets d ON d.id = p.dataset_id "
            "WHERE p.role = ANY(:roles)"
        ),
        {"roles": sorted(roles)},
    ).all()
    return {row.name for row in rows}
