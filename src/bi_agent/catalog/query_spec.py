"""What a client may ask of the data: the shape of a query, validated before anything runs.

Names in a query (metrics, dimensions) are only looked up in the catalog; values are
bound parameters. Nothing here is pasted into SQL.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Grain = Literal["day", "week", "month", "quarter", "year"]
FilterOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains"]
Scalar = str | int | float | bool | date | datetime
MAX_ROWS = 50_000


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dimension: str = Field(min_length=1, max_length=63)
    op: FilterOp
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_fits_op(self) -> Filter:
        if self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op} needs a non-empty list as value")
            if len(self.value) > 1000:
                raise ValueError(f"op {self.op} takes at most 1000 values")
        elif isinstance(self.value, list):
            raise ValueError(f"op {self.op} needs a single value, not a list")
        if self.op == "contains" and not isinstance(self.value, str):
            raise ValueError("op contains needs a text value")
        return self


class OrderBy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=80)
    direction: Literal["asc", "desc"] = "asc"


class QuerySpec(BaseModel):
    """A time series of one or more metrics of one dataset."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = Field(default=None, min_length=1, max_length=63)
    metrics: list[str] | None = Field(default=None, min_length=1, max_length=20)
    grain: Grain = "day"
    start: date | datetime
    end: date | datetime
    group_by: list[str] = Field(default_factory=list, max_length=5)
    filters: list[Filter] = Field(default_factory=list, max_length=20)
    order_by: list[OrderBy] = Field(default_factory=list, max_length=5)
    limit: int = Field(default=10_000, ge=1, le=MAX_ROWS)
    compare: Literal["previous_period"] | None = None

    @model_validator(mode="after")
    def _one_way_to_name_metrics(self) -> QuerySpec:
        if (self.metric is None) == (self.metrics is None):
            raise ValueError("give either metric or metrics")
        if _as_datetime(self.end) <= _as_datetime(self.start):
            raise ValueError("end must be after start (start is included, end is not)")
        return self

    @property
    def metric_names(self) -> list[str]:
        return [self.metric] if self.metric is not None else list(self.metrics or [])

    def canonical(self) -> str:
        """The same JSON for the same question, whatever order or spelling the client used."""
        body = self.model_dump(mode="json")
        body["metrics"] = sorted(self.metric_names)
        body.pop("metric")
        body["group_by"] = sorted(self.group_by)
        body["filters"] = sorted(body["filters"], key=lambda item: json.dumps(item, sort_keys=True))
        return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)


def describe(value: Any) -> str:
    """A value's type for an error message; the value itself may be PHI."""
    return type(value).__name__
