"""What a client may ask of the data: the shape of a query, validated before anything runs.

Names in a query (metrics, dimensions) are only looked up in the catalog; values are
bound parameters. Nothing here is pasted into SQL.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

Grain = Literal["day", "week", "month", "quarter", "year"]
FilterOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains"]
Scalar = str | int | float | bool | date | datetime
MAX_ROWS = 50_000
MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}


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

    @field_validator("compare")
    @classmethod
    def _period_before_is_in_the_calendar(cls, compare: str | None, info: ValidationInfo) -> str | None:
        # start, end and grain come before compare; one that failed its own check is reported as such.
        if compare is None or not {"grain", "start", "end"} <= info.data.keys():
            return compare
        start, end, grain = as_date(info.data["start"]), as_date(info.data["end"]), info.data["grain"]
        try:
            shift_period(start, grain, -period_count(start, end, grain))
        except ValueError:
            raise ValueError(
                "the period before the range, which previous_period compares it with, would begin before "
                "0001-01-01, the calendar's first day; move start later or leave compare out"
            ) from None
        return compare

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


def as_date(value: date | datetime) -> date:
    """A bound's calendar day as written (a datetime's own wall date, whatever its zone)."""
    return value.date() if isinstance(value, datetime) else value


def shift_period(value: date, grain: str, periods: int) -> date:
    """`value` moved by a whole number of grain periods (months keep their day where they can).
    ValueError when that falls outside the calendar, 0001-01-01 to 9999-12-31."""
    if grain in ("day", "week"):
        try:
            return value + timedelta(days=periods * (7 if grain == "week" else 1))
        except OverflowError:
            raise ValueError("the shifted date falls outside the calendar") from None
    year, month = divmod(value.year * 12 + value.month - 1 + periods * MONTHS_PER_PERIOD[grain], 12)
    if not date.min.year <= year <= date.max.year:
        raise ValueError("the shifted date falls outside the calendar")
    return date(year, month + 1, min(value.day, calendar.monthrange(year, month + 1)[1]))


def period_count(start: date, end: date, grain: str) -> int:
    """How many grain periods, counted from `start`, the days from `start` up to `end` (not
    included) touch; at least one. Shifting the range back by that many lines up the period before."""
    if end <= start:
        return 1
    days = (end - start).days
    if grain == "day":
        return days
    if grain == "week":
        return -(-days // 7)
    last = end - timedelta(days=1)
    # Whole periods between the two months; one more if the period that many on still starts by `last`.
    count = ((last.year - start.year) * 12 + last.month - start.month) // MONTHS_PER_PERIOD[grain]
    return count + 1 if shift_period(start, grain, count) <= last else count


def describe(value: Any) -> str:
    """A value's type for an error message; the value itself may be PHI."""
    return type(value).__name__
