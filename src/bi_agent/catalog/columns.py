"""Column types and roles: what an Arrow type becomes in PostgreSQL and how it is used.

A column's role says how metrics use it: `time` (dates and timestamps) for the time
axis, `measure` (numbers) for aggregations, `dimension` (text, booleans) for grouping
and filtering. Roles are a first guess at import; an admin can change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from bi_agent.errors import InvalidInputError

DataType = Literal["bigint", "double precision", "numeric", "boolean", "date", "timestamptz", "text"]
Role = Literal["time", "dimension", "measure"]
NUMBER_TYPES: tuple[DataType, ...] = ("bigint", "double precision", "numeric")

# Types an append may bring for a column of another type, because COPY converts their text
# exactly (a number's text is what reaches PostgreSQL, not a binary float).
WIDENINGS: dict[DataType, set[DataType]] = {
    "double precision": {"bigint", "numeric"},
    "numeric": {"bigint", "double precision"},
    "timestamptz": {"date"},
    "text": {"bigint", "double precision", "numeric", "boolean", "date", "timestamptz"},
}

ARROW_TYPES: dict[DataType, pa.DataType] = {
    "bigint": pa.int64(),
    "double precision": pa.float64(),
    "numeric": pa.decimal128(38, 9),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "text": pa.string(),
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    source_name: str
    data_type: DataType
    role: Role
    phi: bool = False


def postgres_type(arrow_type: pa.DataType, column: str, filename: str) -> DataType:
    if pa.types.is_integer(arrow_type):
        return "numeric" if arrow_type == pa.uint64() else "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return "text"
    raise InvalidInputError(
        f"{filename}: column {column} has type {arrow_type}, which a dataset cannot hold; "
        "flatten nested values into columns of numbers, text, booleans or dates"
    )


def default_role(data_type: DataType) -> Role:
    if data_type in ("date", "timestamptz"):
        return "time"
    if data_type in NUMBER_TYPES:
        return "measure"
    return "dimension"
