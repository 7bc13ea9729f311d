"""Catalog epoch: one number that moves, at commit, whenever an answer or a permission may change.

The API keeps cached answers and callers' permissions under the epoch it last heard
of (NOTIFY `bi_catalog_epoch`), so a cache hit needs no PostgreSQL read at all.
The triggers are deferred constraint triggers: they run at commit, so the epoch row
is locked only for the last instant of a writing transaction, and they bump it once
per transaction however many rows changed. A change made by hand in psql moves the
epoch too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Table → the events that may change what a query answers or what a caller may do.
# Logins write bi.users.last_login_at, which changes neither: only these columns count.
WATCHED = {
    "users": "INSERT OR DELETE OR UPDATE OF username, is_active",
    "user_roles": "INSERT OR DELETE OR UPDATE",
    "role_permissions": "INSERT OR DELETE OR UPDATE",
    "datasets": "INSERT OR DELETE OR UPDATE",
    "dataset_columns": "INSERT OR DELETE OR UPDATE",
    "metrics": "INSERT OR DELETE OR UPDATE",
}


def upgrade() -> None:
    op.execute(
        "CREATE TABLE bi.catalog_epoch ("
        " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
        " epoch bigint NOT NULL,"
        # Keys are made of the token, not the counter: a restored backup or a new database
        # starts counting again, and must not meet answers cached under the same numbers.
        " token uuid NOT NULL DEFAULT gen_random_uuid(),"
        " bumped_by xid8)"
    )
    op.execute("INSERT INTO bi.catalog_epoch (epoch) VALUES (1)")
    op.execute(
        """
        CREATE FUNCTION bi.bump_catalog_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            announced text;
        BEGIN
            UPDATE bi.catalog_epoch
            SET epoch = epoch + 1, token = gen_random_uuid(), bumped_by = pg_current_xact_id()
            WHERE bumped_by IS DISTINCT FROM pg_current_xact_id()
            RETURNING epoch || ':' || token INTO announced;
            IF announced IS NOT NULL THEN
                PERFORM pg_notify('bi_catalog_epoch', announced);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    for table, events in WATCHED.items():
        op.execute(
            f"CREATE CONSTRAINT TRIGGER bump_catalog_epoch AFTER {events} ON bi.{table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bi.bump_catalog_epoch()"
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f"DROP TRIGGER bump_catalog_epoch ON bi.{table}")
    op.execute("DROP FUNCTION bi.bump_catalog_epoch()")
    op.execute("DROP TABLE bi.catalog_epoch")
