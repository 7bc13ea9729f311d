"""De-identification: a HIPAA Safe Harbor copy (45 CFR 164.514(b)(2)) of a dataset, written
in PostgreSQL as the dataset `<name>_deid` with the lock and swap of a replace import.

Each column is judged by its type, its name and its PHI flag, in this order:

- a date or timestamp becomes its year, an integer under the same name (a timestamp's
  year in the reporting time zone). The year of a date of birth becomes NULL when it
  implies an age over 89: Safe Harbor puts those ages, and the dates that reveal them,
  in one category.
- a ZIP code (a name with `zip` or `postal`) becomes its first three digits, or `000`
  for the three-digit areas of 20,000 people or fewer.
- an age (`age`, `*_age`, `age_at_*`, `age_years`) becomes text, with every age over 89
  as `90+`.
- a column flagged PHI, one named like a direct identifier (names, medical record and
  social security numbers, contact details, addresses and places smaller than a state,
  account, licence, vehicle and device numbers, URLs and IP addresses, health plan
  numbers, certificates, photos, biometrics), or one named like a date without holding
  dates, is dropped.
- any other column is copied as it is. Values are never inspected, so a free-text column
  can hold identifiers its name does not show: flag it PHI and it is dropped.

The copy has no PHI flags. Its dates are years, which no metric takes as a time column,
so the source's metrics are not copied (nor its rollups). Nothing here returns, logs or
raises a data value: only column names, rules and counts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum

from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, text

from bi_agent.catalog import datasets
from bi_agent.catalog.columns import NUMBER_TYPES, ColumnSpec, DataType
from bi_agent.catalog.imports import check_metrics_fit, lock_dataset, replace_from_staging, staging_table_name
from bi_agent.catalog.names import MAX_IDENTIFIER_LENGTH, check_identifier
from bi_agent.catalog.phi import AGE, BIRTH, DATE_NAME, DIRECT_IDENTIFIER, ZIP
from bi_agent.errors import ConflictError, InvalidInputError
from bi_agent.infra.db import psycopg_connection

SUFFIX = "_deid"
# Safe Harbor's oldest single age; older ages (and birth years that reveal them) are one category.
OLDEST_AGE = 89
# Three-digit ZIP areas of 20,000 people or fewer (2000 Census), which Safe Harbor turns into 000.
RESTRICTED_ZIP3 = (
    "036", "059", "063", "102", "203", "556", "692", "790", "821",
    "823", "830", "831", "878", "879", "884", "890", "893",
)  # fmt: skip
DATE_TYPES: tuple[DataType, ...] = ("date", "timestamptz")


class Rule(StrEnum):
    KEEP = "copied as is"
    YEAR = "year"
    BIRTH_YEAR = "year; null when it implies an age over 89"
    ZIP3 = "first 3 digits; 000 for areas of 20,000 people or fewer"
    AGE = "text; ages over 89 as 90+"
    DROP_PHI = "flagged PHI"
    DROP_IDENTIFIER = "named like a direct identifier"
    DROP_DATE_NAME = "named like a date but not stored as one"


DROPPED = (Rule.DROP_PHI, Rule.DROP_IDENTIFIER, Rule.DROP_DATE_NAME)
TRANSFORMED = (Rule.YEAR, Rule.BIRTH_YEAR, Rule.ZIP3, Rule.AGE)


class DeidentificationOutcome(BaseModel):
    """What the copy holds, in column names, rules and counts, never values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="The dataset copied")
    dataset: str = Field(description="The copy, `<source>_deid`")
    row_count: int
    data_version: int
    columns_kept: list[str] = Field(description="Copied as they are")
    columns_dropped: dict[str, str] = Field(description="Each column left out, with the reason")
    columns_transformed: dict[str, str] = Field(description="Each column changed, with how")
    notes: list[str] = Field(default_factory=list)


def deidentified_name(dataset: str) -> str:
    """`<dataset>_deid`, or a 422 when that is no identifier (too long)."""
    check_identifier(dataset, "dataset name")
    name = dataset + SUFFIX
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise InvalidInputError(
            f"dataset name {dataset} is too long for a de-identified copy: {name} would have {len(name)} "
            f"characters, over the limit of {MAX_IDENTIFIER_LENGTH}"
        )
    return check_identifier(name, "de-identified dataset name")


def rule_of(column: ColumnSpec) -> Rule:
    """What Safe Harbor asks of this column: transforms come first, so a PHI-flagged date of
    birth or ZIP code keeps what may be kept of it."""
    if column.data_type in DATE_TYPES:
        return Rule.BIRTH_YEAR if BIRTH.search(column.name) else Rule.YEAR
    transformable = column.data_type in (*NUMBER_TYPES, "text")
    if transformable and ZIP.search(column.name):
        return Rule.ZIP3
    if transformable and AGE.search(column.name):
        return Rule.AGE
    if column.phi:
        return Rule.DROP_PHI
    if DIRECT_IDENTIFIER.search(column.name):
        return Rule.DROP_IDENTIFIER
    if DATE_NAME.search(column.name):
        return Rule.DROP_DATE_NAME
    return Rule.KEEP


def deidentify_dataset(
    engine: Engine,
    dataset: str,
    *,
    timezone: str = "UTC",
    user_id: uuid.UUID | None = None,
    today: date | None = None,
) -> DeidentificationOutcome:
    """Write the Safe Harbor copy of `dataset` as `<dataset>_deid`, created or replaced."""
    target = deidentified_name(dataset)
    this_year = (today or datetime.now(UTC).date()).year
    with engine.begin() as connection:
        # The source, then the copy: the only writer holding two locks takes them in one order
        # (a copy's name is the longer), so no two writers wait on each other in a circle.
        lock_dataset(connection, dataset)
        lock_dataset(connection, target)
        connection.execute(text("SET LOCAL TimeZone = 'UTC'"))
        columns = datasets.get_columns(connection, dataset)
        _check_target_is_a_copy(connection, target)
        rules = {column.name: rule_of(column) for column in columns}
        kept = [column for column in columns if rules[column.name] not in DROPPED]
        if not kept:
            raise InvalidInputError(f"dataset {dataset}: every column is an identifier; a copy would be empty")
        specs = [_copy_spec(column, rules[column.name]) for column in kept]
        check_metrics_fit(connection, target, specs, f"deidentify {dataset}")
        staging = staging_table_name()
        selected = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(
                _copy_value(column, rules[column.name], timezone, this_year), sql.Identifier(column.name)
            )
            for column in kept
        )
        raw = psycopg_connection(connection)
        with raw.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE TABLE {}.{} AS SELECT {} FROM {}.{}").format(
                    sql.Identifier("analytics"),
                    sql.Identifier(staging),
                    selected,
                    sql.Identifier("analytics"),
                    sql.Identifier(dataset),
                )
            )
            row_count = cursor.rowcount
        _, data_version = replace_from_staging(
            connection, target, staging, specs, row_count, user_id, timezone, keep_flags=False
        )
        connection.execute(
            text("UPDATE bi.datasets SET description = :description WHERE name = :name"),
            {"description": f"HIPAA Safe Harbor de-identified copy of {dataset}", "name": target},
        )
    return DeidentificationOutcome(
        source=dataset,
        dataset=target,
        row_count=row_count,
        data_version=data_version,
        columns_kept=[name for name, rule in rules.items() if rule is Rule.KEEP],
        columns_dropped={name: rule.value for name, rule in rules.items() if rule in DROPPED},
        columns_transformed={name: rule.value for name, rule in rules.items() if rule in TRANSFORMED},
        notes=_notes(dataset, rules),
    )


def _check_target_is_a_copy(connection: Connection, target: str) -> None:
    """A copy is never loaded from files; a dataset of that name that was is someone's data."""
    imported = connection.execute(
        text("SELECT 1 FROM bi.imports i JOIN bi.datasets d ON d.id = i.dataset_id WHERE d.name = :name LIMIT 1"),
        {"name": target},
    ).first()
    if imported is not None:
        raise ConflictError(
            f"dataset {target} was loaded from files, so it is not a de-identified copy; "
            "drop or rename it before de-identifying into it"
        )


def _copy_spec(column: ColumnSpec, rule: Rule) -> ColumnSpec:
    if rule in (Rule.YEAR, Rule.BIRTH_YEAR):
        return ColumnSpec(column.name, column.source_name, "bigint", "dimension")
    if rule in (Rule.ZIP3, Rule.AGE):
        return ColumnSpec(column.name, column.source_name, "text", "dimension")
    return ColumnSpec(column.name, column.source_name, column.data_type, column.role)


def _copy_value(column: ColumnSpec, rule: Rule, timezone: str, this_year: int) -> sql.Composable:
    name = sql.Identifier(column.name)
    if rule in (Rule.YEAR, Rule.BIRTH_YEAR):
        moment = (
            name if column.data_type == "date" else sql.SQL("({} AT TIME ZONE {})").format(name, sql.Literal(timezone))
        )
        year = sql.SQL("CAST(extract(year FROM {}) AS bigint)").format(moment)
        if rule is Rule.YEAR:
            return year
        # Born in or before this year means possibly older than 89 now: the year says too much.
        return sql.SQL("CASE WHEN {} > {} THEN {} END").format(year, sql.Literal(this_year - OLDEST_AGE - 1), year)
    if rule is Rule.ZIP3:
        return _zip3(column)
    if rule is Rule.AGE:
        return _age(column)
    return name


def _zip3(column: ColumnSpec) -> sql.Composable:
    """The first three digits; a ZIP that lost its leading zeros (stored as a number, or as
    text by a spreadsheet) gets them back first. Anything else is no ZIP code: NULL."""
    name = sql.Identifier(column.name)
    if column.data_type == "text":
        value = sql.SQL("btrim({})").format(name)
        prefix = sql.SQL(
            "CASE WHEN {0} ~ '^[0-9]{{5}}(-?[0-9]{{4}})?$' THEN left({0}, 3) "
            "WHEN {0} ~ '^[0-9]{{1,4}}$' THEN left(lpad({0}, 5, '0'), 3) END"
        ).format(value)
    else:
        digits = sql.SQL("CAST(CAST({} AS bigint) AS text)").format(name)
        prefix = sql.SQL(
            "CASE WHEN {0} BETWEEN 0 AND 99999 THEN left(lpad({1}, 5, '0'), 3) "
            "WHEN {0} BETWEEN 100000 AND 999999999 THEN left(lpad({1}, 9, '0'), 3) END"
        ).format(name, digits)
    restricted = sql.SQL(", ").join(sql.Literal(zip3) for zip3 in RESTRICTED_ZIP3)
    return sql.SQL("CASE WHEN {0} IN ({1}) THEN '000' ELSE {0} END").format(prefix, restricted)


def _age(column: ColumnSpec) -> sql.Composable:
    """Whole years as text, 90 and over as `90+`; text that is no number of years is NULL."""
    name = sql.Identifier(column.name)
    over = sql.Literal(OLDEST_AGE + 1)
    if column.data_type == "text":
        value = sql.SQL("btrim({})").format(name)
        number = sql.SQL("CAST({} AS numeric)").format(value)
        return sql.SQL(
            "CASE WHEN {0} = '90+' THEN '90+' WHEN {0} !~ '^[0-9]+(\\.[0-9]+)?$' THEN NULL "
            "WHEN {1} >= {2} THEN '90+' ELSE CAST(CAST(floor({1}) AS bigint) AS text) END"
        ).format(value, number, over)
    whole = name if column.data_type == "bigint" else sql.SQL("floor({})").format(name)
    return sql.SQL("CASE WHEN {0} >= {1} THEN '90+' ELSE CAST(CAST({2} AS bigint) AS text) END").format(
        name, over, whole
    )


def _notes(dataset: str, rules: dict[str, Rule]) -> list[str]:
    notes = []
    births = [name for name, rule in rules.items() if rule is Rule.BIRTH_YEAR]
    if births:
        notes.append(f"birth years that imply an age over {OLDEST_AGE} are null in {', '.join(births)}")
    if any(rule in (Rule.YEAR, Rule.BIRTH_YEAR) for rule in rules.values()):
        notes.append(f"dates are years, so the metrics of {dataset} are not copied")
    return notes
