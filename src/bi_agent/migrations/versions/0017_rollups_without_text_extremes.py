"""Rollup views stop keeping the min and max of text columns; the views that kept them are rebuilt.

Since 0016 min and max of text are no metrics, but a view kept `min` and `max` partials of
every text measure column (one for a count of it, or for a metric 0016 deleted): a record's
name or number, possibly PHI, stored in the view for as long as it stood, and never served.
Views of a text measure are dropped and created again without them, as the platform creates
them at this revision (`catalog/rollups.py`, copied here so that a later change of that code
does not change what this migration does), empty and unused until the next refresh fills
them (the hourly refresh task, or the dataset's next import); meanwhile their queries read
the table. Views
without a text measure are left as they are.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import logging
from typing import Any

from alembic import op
from sqlalchemy import Connection, text

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

# catalog/rollups.py's PARTIALS at this revision.
PARTIALS = {
    "bigint": ("sum", "count", "min", "max"),
    "double precision": ("sum", "count", "min", "max"),
    "numeric": ("sum", "count", "min", "max"),
    "date": ("count", "min", "max"),
    "timestamptz": ("count", "min", "max"),
    "text": ("count",),
    "boolean": ("count",),
}


def upgrade() -> None:
    bind = op.get_bind()
    views = bind.execute(
        text(
            "SELECT r.view_name, d.name AS dataset, r.dataset_id, r.time_column, r.grain, r.dimensions, r.measures, "
            "r.timezone FROM bi.rollups r JOIN bi.datasets d ON d.id = r.dataset_id WHERE EXISTS (SELECT 1 FROM "
            "bi.dataset_columns c WHERE c.dataset_id = r.dataset_id AND c.name = ANY(r.measures) "
            "AND c.data_type = 'text') ORDER BY r.view_name"
        )
    ).all()
    for view in views:
        types: dict[str, str] = dict(
            bind.execute(
                text("SELECT name, data_type FROM bi.dataset_columns WHERE dataset_id = :id"), {"id": view.dataset_id}
            ).all()
        )
        _rebuild(bind, view, types)
        logger.warning("rebuilt rollup %s of dataset %s without min and max of text", view.view_name, view.dataset)


def _rebuild(bind: Connection, view: Any, types: dict[str, str]) -> None:
    quote = bind.dialect.identifier_preparer.quote
    name = f"analytics.{quote(view.view_name)}"
    time_column = quote(view.time_column)
    zone = "'" + view.timezone.replace("'", "''") + "'"
    day = time_column if types[view.time_column] == "date" else f"({time_column} AT TIME ZONE {zone})::date"
    if view.grain != "day":
        day = f"date_trunc('month', {day}::timestamp)::date"
    selected = [f"{day} AS day"]
    selected += [f"{quote(dimension)} AS d{index}" for index, dimension in enumerate(view.dimensions)]
    selected.append("count(*) AS n_rows")
    for index, measure in enumerate(view.measures):
        selected += [f"{partial}({quote(measure)}) AS m{index}_{partial}" for partial in PARTIALS[types[measure]]]
    group = ", ".join(str(position) for position in range(1, len(view.dimensions) + 2))
    keys = ", ".join(["day", *(f"d{index}" for index in range(len(view.dimensions)))])
    # Dropping the view drops its index too.
    op.execute(f"DROP MATERIALIZED VIEW IF EXISTS {name}")
    # Identifiers quoted, the zone a quoted literal: the catalog's own names, as rollups.py uses them.
    select = f"SELECT {', '.join(selected)} FROM analytics.{quote(view.dataset)} GROUP BY {group}"  # noqa: S608
    op.execute(f"CREATE MATERIALIZED VIEW {name} AS {select} WITH NO DATA")
    op.execute(f"CREATE UNIQUE INDEX {quote(view.view_name + '_key')} ON {name} ({keys}) NULLS NOT DISTINCT")
    bind.execute(
        text("UPDATE bi.rollups SET data_version = NULL, refreshed_at = NULL WHERE view_name = :view"),
        {"view": view.view_name},
    )


def downgrade() -> None:
    # The views answer every metric as they are; their text extremes are not brought back.
    pass
