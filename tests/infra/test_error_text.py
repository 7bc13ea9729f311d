"""What an error may say outside its process: its class and the head of its message that cannot
be a value; a domain error its own message."""

from __future__ import annotations

import datetime
import io
import traceback
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

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


class _FailedCopy(psycopg.errors.InvalidTextRepresentation):
    """What PostgreSQL says of a COPY row it could not read, diagnostics and all."""

    @property
    def diag(self) -> Any:
        context = f'COPY staging, line 3, column mrn: "{VALUE}"'
        return SimpleNamespace(sqlstate="22P02", column_name=None, context=context)


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
        (lambda: _csv("a,b", VALUE), "ArrowInvalid: CSV parse error: Expected 2 columns, got 1"),
        (_wrapped_by_sqlalchemy, "InvalidTextRepresentation: invalid input syntax for type integer"),
        # Values printed without quotes or a colon before them.
        (lambda: pa.array([123456.5]).cast(pa.int64()), "ArrowInvalid: Float value"),
        (lambda: datetime.date(19455, 1, 1), "ValueError: year"),
        (lambda: [np.int64(1)].index(np.int64(12345)), "ValueError"),
        (lambda: np.int64(10**30), "OverflowError: Python int too large to convert to C long"),
        (lambda: pd.to_datetime(["Smith"]), "DateParseError: Unknown datetime string format, unable to parse"),
        (lambda: pa.array(["Smith"]).cast(pa.int64()), "ArrowInvalid: Failed to parse string"),
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


def test_postgresql_says_where_a_copy_failed_but_not_on_what() -> None:
    error = _FailedCopy(f'invalid input syntax for type bigint: "{VALUE}"')
    assert error_text.describe(error) == (
        "_FailedCopy: invalid input syntax for type bigint (SQLSTATE 22P02, COPY staging, line 3, column mrn)"
    )


def test_a_domain_error_keeps_its_message() -> None:
    error = InvalidInputError("visits.csv line 3, column charges: expected a number")
    assert error_text.describe(error) == str(error)
    assert error_text.value_free(error) is error


@pytest.mark.parametrize(
    ("error", "told"),
    [
        (ValueError("Float value 123456.500000 was truncated converting to int64"), "ValueError: Float value"),
        (ValueError("year 19455 is out of range"), "ValueError: year"),
        (pd.errors.OutOfBoundsDatetime("Timestamp 1990-01-02 is out of bounds"), "OutOfBoundsDatetime: Timestamp"),
        (ValueError("MRN12345 is not in list"), "ValueError"),
        (ValueError("Smith is not in list"), "ValueError"),
        (ValueError("Patient Smith is not in list"), "ValueError"),
        (
            ValueError("invalid literal for int() with base 10: 'Smith'"),
            "ValueError: invalid literal for int() with base 10",
        ),
        (
            ValueError("could not convert string to float: 'MRN9946928'"),
            "ValueError: could not convert string to float",
        ),
        (KeyError("MRN123"), "KeyError"),
        (
            OverflowError("Python int too large to convert to C long"),
            "OverflowError: Python int too large to convert to C long",
        ),
        (ValueError("could not broadcast the row\nMRN123 Smith 1990-01-02"), "ValueError: could not broadcast the row"),
        (
            ValueError("Out of bounds nanosecond timestamp: 1990-01-02 00:00:00"),
            "ValueError: Out of bounds nanosecond timestamp",
        ),
        (ValueError("no match for mrn=MRN123"), "ValueError: no match for"),
        (ValueError("bad value in row of smith@example.org"), "ValueError: bad value in row of"),
        (
            ValueError("Cannot convert non-finite values (NA or inf) to integer"),
            "ValueError: Cannot convert non-finite values",
        ),
        (
            ValueError("In CSV column #2: Row #3: CSV conversion error to int64: invalid value 'MRN1'"),
            "ValueError: In CSV column #2: Row #3: CSV conversion error to int64",
        ),
        (
            ValueError("JSON parse error: Column(/mrn) changed from number to string in row 1"),
            "ValueError: JSON parse error: Column(/mrn) changed from number to string in row 1",
        ),
        (
            ValueError("value too long for type character varying(10)"),
            "ValueError: value too long for type character varying(10)",
        ),
    ],
)
def test_a_message_is_cut_at_the_first_word_that_could_be_a_value(error: Exception, told: str) -> None:
    said = error_text.describe(error)
    assert said == told
    for value in ("MRN", "Smith", "123456", "19455", "1990", "smith@"):
        assert value not in said
