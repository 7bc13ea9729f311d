"""Filters (`{"dimension", "op", "value"}`) against the catalog: checked against a column's
type, and turned into a SQLAlchemy condition whose value is always a bound parameter.

Queries, row policies and row previews share them, so a filter means the same everywhere.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from bi_agent.catalog.columns import NUMBER_TYPES, ColumnSpec
from bi_agent.catalog.query_spec import Filter
from bi_agent.errors import InvalidInputError


def check_filter_value(item: Filter, column: ColumnSpec) -> None:
    values = item.value if isinstance(item.value, list) else [item.value]
    numeric = column.data_type in NUMBER_TYPES
    for value in values:
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidInputError(f"filter on {item.dimension}: {column.data_type} needs numbers")
        if column.data_type == "boolean" and not isinstance(value, bool):
            raise InvalidInputError(f"filter on {item.dimension}: boolean needs true or false")
        if column.data_type == "text" and not isinstance(value, str):
            raise InvalidInputError(f"filter on {item.dimension}: text needs text values")
    if item.op == "contains" and column.data_type != "text":
        raise InvalidInputError(f"filter on {item.dimension}: contains works on text columns only")


def condition(column: Any, item: Filter) -> ColumnElement[bool]:
    value = item.value
    if item.op == "eq":
        return column == value  # type: ignore[no-any-return]
    if item.op == "ne":
        return column != value  # type: ignore[no-any-return]
    if item.op == "in":
        return column.in_(value)  # type: ignore[no-any-return]
    if item.op == "not_in":
        return sa.not_(column.in_(value))  # type: ignore[no-any-return]
    if item.op == "gt":
        return column > value  # type: ignore[no-any-return]
    if item.op == "gte":
        return column >= value  # type: ignore[no-any-return]
    if item.op == "lt":
        return column < value  # type: ignore[no-any-return]
    if item.op == "lte":
        return column <= value  # type: ignore[no-any-return]
    return column.contains(value, autoescape=True)  # type: ignore[no-any-return]
