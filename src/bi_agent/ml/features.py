"""What a model reads: its features, their kinds, and the one way columns become its input frame.

Training (columns read from PostgreSQL) and prediction (columns sent as JSON or read from
a file) build the frame with `build_frame`, so a feature has the same dtype on both
sides: numbers and booleans as float64 with NaN for a missing value, text as Python
objects with NaN for a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from bi_agent.catalog.columns import ColumnSpec, DataType

FeatureKind = Literal["number", "boolean", "text"]

# Dates and timestamps are left out: a raw point in time rarely generalises to later data,
# and which parts of it matter (weekday, month, age) is the analyst's call, not ours.
KIND_OF_TYPE: dict[DataType, FeatureKind | None] = {
    "bigint": "number",
    "double precision": "number",
    "numeric": "number",
    "boolean": "boolean",
    "text": "text",
    "date": None,
    "timestamptz": None,
}


# Written `{"name", "type"}` in the registry and in replies; `kind` in code, where `type` is taken.
@dataclass(frozen=True, config=ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True))
class Feature:
    name: str
    kind: FeatureKind = Field(alias="type")


def feature_kind(column: ColumnSpec) -> FeatureKind | None:
    """The kind a dataset column has as a feature, or None when it cannot be one."""
    return KIND_OF_TYPE[column.data_type]


def numeric_kinds(features: Sequence[Feature]) -> list[str]:
    """Names of the features the model reads as numbers (booleans are 0 and 1)."""
    return [feature.name for feature in features if feature.kind != "text"]


def text_kinds(features: Sequence[Feature]) -> list[str]:
    return [feature.name for feature in features if feature.kind == "text"]


def column_array(kind: FeatureKind, values: Sequence[Any], *, has_none: bool = True) -> npt.NDArray[Any]:
    """A feature's values as the model reads them; None becomes NaN.

    The caller has checked the values' types: numbers (or booleans) and None for the
    numeric kinds, strings and None for text. `has_none=False` (the caller knows there is
    no None) skips the pass that looks for them.
    """
    if kind != "text":
        # numpy turns None into NaN and True into 1.0 in one pass, in C.
        return np.asarray(values, dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    if has_none:
        array[array == None] = np.nan  # noqa: E711 (an element-wise comparison, not an identity test)
    return array


def build_frame(features: Sequence[Feature], columns: Mapping[str, npt.NDArray[Any]]) -> pd.DataFrame:
    """The model's input: one column per feature, in the model's order.

    Text columns are built as object Series on purpose: pandas 3 would otherwise infer its
    string dtype, which the encoders would meet at predict time but not at training time.
    """
    return pd.DataFrame(
        {
            feature.name: pd.Series(columns[feature.name], dtype=object if feature.kind == "text" else np.float64)
            for feature in features
        },
        copy=False,
    )
