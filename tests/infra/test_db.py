"""The PostgreSQL engine the platform opens: a failed query is told without its bound parameters."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import column, literal, select
from sqlalchemy.exc import DataError

from bi_agent.infra.db import create_database_engine
from tests.conftest import make_settings

# The value of the incident: a NUL byte fails in the driver, whose message quotes nothing, so
# the parameters SQLAlchemy adds were the only place the value showed.
VALUE = "MRN8552724\x00"


def test_a_failed_query_logs_no_bound_parameter(database: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = create_database_engine(make_settings(database_url=database))
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # SQLAlchemy's log of each statement
    try:
        with pytest.raises(DataError) as raised, engine.connect() as connection:
            connection.execute(select(literal(1)).where(column("mrn") == VALUE))
    finally:
        engine.dispose()
    logging.getLogger("bi_agent").error("query failed", exc_info=raised.value)
    formatter = logging.Formatter()
    records = [formatter.format(record) for record in caplog.records]
    assert any("mrn_1" in record for record in records)  # the statement is logged, its parameter not
    assert not any(VALUE[:-1] in record for record in records), records
