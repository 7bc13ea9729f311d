"""What an error may say outside its process: its class and what failed, never the value; a
domain error its own message."""

from __future__ import annotations

import io
import traceback
from collections.abc import Callable

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from sqlalchemy.exc import DataError

from bi_agent.errors import InvalidInputError, UnexpectedError
from bi_agent.infra import error_text

VALUE = "MRN-7316509"


def _csv(columns: str, row: str) -> None:
    pa_csv.read_csv(
        io.BytesIO(f"{columns}\n1,2\n{row}\n".encode()),
        convert_options=pa_csv.ConvertOptions(column_types={"a": pa.int64()}),
    )


def _wrapped_by_sqlalchemy() -> None:
    driver = psycopg.errors.InvalidTextRepresentation(f'invalid input syntax for type integer: "{VALUE}"')
    raise DataError("SELECT CAST(%(mrn_1)s AS integer)", {"mrn_1": VALUE}, driver)


@pytest.mark.parametrize(
    ("fail", "told"),
    [
        (lambda: np.asarray([VALUE], dtype=np.float64), "ValueError: could not convert string to float"),
        (lambda: int(VALUE), "ValueError: invalid literal for int() with base 10"),
        (lambda: {"mrn": 1}[VALUE], "KeyError"),
        (lambda: pd.Series([VALUE]).astype(float), "ValueError: could not convert string to float"),
        (lambda: _csv("a,b", f"{VALUE},3"), "ArrowInvalid: In CSV column #0: CSV conversion error to int64"),
        (lambda: _csv("a,b", VALUE), "ArrowInvalid: CSV parse error"),
        (_wrapped_by_sqlalchemy, "InvalidTextRepresentation: invalid input syntax for type integer"),
    ],
)
def test_a_library_error_is_told_without_its_value(fail: Callable[[], object], told: str) -> None:
    with pytest.raises(Exception) as raised:
        fail()
    assert error_text.describe(raised.value) == told
    replacement = error_text.value_free(raised.value)
    assert isinstance(replacement, UnexpectedError) and str(replacement) == told
    # The traceback still leads to the line that failed.
    assert "fail()" in "".join(traceback.format_tb(replacement.__traceback__))


def test_a_domain_error_keeps_its_message() -> None:
    error = InvalidInputError("visits.csv line 3, column charges: expected a number")
    assert error_text.describe(error) == str(error)
    assert error_text.value_free(error) is error
