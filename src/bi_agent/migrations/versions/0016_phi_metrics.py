"""Metrics that are min or max of a text column are removed; every cached answer is left behind.

From this revision min and max of text are refused (they are one record's value, such as a
patient's name or record number, not an aggregate), and a PHI metric (min or max of a PHI
column, a filter on one, a PHI time column) needs `phi:read`, decided from the columns'
flags whenever it is defined, changed, queried or its KPIs read. Nothing about PHI-ness is
stored, so metrics already defined follow the rule as they are; what this revision handles
is the stored state the rule cannot reach:

- Metrics that are min or max of a text column are no metrics any more, and could not be
  changed without changing their aggregation; their value is text, which failed the KPI
  calculation of every metric whenever it did not read as a number. They are deleted,
  their KPI snapshots with them (the foreign key cascades); each is named in the
  migration's log, and a dashboard tile that used one answers "unknown metric". A
  dataset's rollup kept the column's min and max partials; migration 0017 rebuilds such
  views without them.
- Answers cached under the old rules (the query and reply caches in Redis) may hold a PHI
  metric's values for a caller who may no longer see them. Moving the catalog epoch makes
  every reply filed under it unreachable; query-cache keys now include the dataset's PHI
  columns, so no older entry is found either.

KPI snapshots of PHI metrics stay: they are served only to callers with `phi:read`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import logging

from alembic import op
from sqlalchemy import text

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    removed = (
        op.get_bind()
        .execute(
            text(
                "DELETE FROM bi.metrics m USING bi.dataset_columns c WHERE c.dataset_id = m.dataset_id "
                "AND c.name = m.column_name AND c.data_type = 'text' AND m.aggregation IN ('min', 'max') "
                "RETURNING m.name"
            )
        )
        .scalars()
        .all()
    )
    for name in sorted(removed):
        logger.warning("removed metric %s: min and max of a text column are no longer metrics", name)
    # What the trigger of migration 0009 does, once, whether or not a metric was removed.
    op.execute(
        "UPDATE bi.catalog_epoch SET epoch = epoch + 1, token = gen_random_uuid(), bumped_by = pg_current_xact_id()"
    )
    op.execute("SELECT pg_notify('bi_catalog_epoch', (SELECT epoch || ':' || token FROM bi.catalog_epoch))")


def downgrade() -> None:
    # Removed metrics are not restored: their definitions are gone.
    pass
