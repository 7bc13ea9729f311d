"""Audit log (append-only, hash-chained) and per-user token versions.

`bi.audit_log` holds one row per audited event; `bi.audit_chain` is its single head
row (the last sequence number and hash). An append locks the head row, so two
writers cannot fork the chain, and `verify` can tell a deleted tail from a short log.

Append-only is enforced by triggers that raise on UPDATE, DELETE and TRUNCATE of the
log (and DELETE or TRUNCATE of the head). Privileges alone would not do: the tests,
the embedded mode and most small deployments connect as the table's owner or a
superuser, who holds every privilege; a trigger binds them too, unless they disable
it on purpose (ALTER TABLE ... DISABLE TRIGGER, session_replication_role = replica),
which is exactly the tampering the hash chain then reveals.

`bi.users.token_version` moves when a user is disabled, loses or gains roles or gets
a new password; tokens carry the version they were issued under, so older ones stop
working at once. It is watched by the catalog epoch trigger (migration 0009), so the
principals cached per epoch are read again when it moves.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("token_version", sa.Integer, nullable=False, server_default="0"), schema="bi")
    _watch_users("username, is_active, token_version")

    op.create_table(
        "audit_log",
        # The position in the chain: gapless, given under the head row's lock.
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        # No foreign key: a record outlives its user, and ON DELETE SET NULL would be an UPDATE.
        sa.Column("user_id", postgresql.UUID(as_uuid=True)),
        sa.Column("username", sa.Text),
        sa.Column("roles", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("resource", sa.Text),
        sa.Column("dataset", sa.Text),
        sa.Column("columns", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("phi", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("purpose", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("client_address", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        # Names, ids and counts only (which fields changed, the permission lacking), never data values.
        sa.Column("details", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.CheckConstraint("seq >= 1", name="audit_log_seq_positive"),
        sa.CheckConstraint("outcome IN ('success', 'failure', 'denied')", name="audit_log_outcome"),
        sa.CheckConstraint("hash ~ '^[0-9a-f]{64}$' AND prev_hash ~ '^[0-9a-f]{64}$'", name="audit_log_hashes"),
        schema="bi",
    )
    op.create_index("audit_log_occurred_at", "audit_log", ["occurred_at"], schema="bi")
    op.create_index("audit_log_user_id", "audit_log", ["user_id", "seq"], schema="bi")
    op.create_index("audit_log_dataset", "audit_log", ["dataset", "seq"], schema="bi")
    op.create_index("audit_log_action", "audit_log", ["action", "seq"], schema="bi")

    op.execute(
        "CREATE TABLE bi.audit_chain ("
        " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
        " last_seq bigint NOT NULL,"
        " last_hash text NOT NULL)"
    )
    # The first record's previous hash: 64 zeros.
    op.execute("INSERT INTO bi.audit_chain (last_seq, last_hash) VALUES (0, repeat('0', 64))")

    op.execute(
        """
        CREATE FUNCTION bi.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON bi.audit_log "
        "FOR EACH ROW EXECUTE FUNCTION bi.refuse_audit_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON bi.audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION bi.refuse_audit_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_kept BEFORE DELETE ON bi.audit_chain "
        "FOR EACH ROW EXECUTE FUNCTION bi.refuse_audit_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON bi.audit_chain "
        "FOR EACH STATEMENT EXECUTE FUNCTION bi.refuse_audit_change()"
    )


def downgrade() -> None:
    # DROP TABLE is not a DELETE: the triggers go with the tables.
    op.execute("DROP TABLE bi.audit_chain")
    op.execute("DROP TABLE bi.audit_log")
    op.execute("DROP FUNCTION bi.refuse_audit_change()")
    _watch_users("username, is_active")
    op.drop_column("users", "token_version", schema="bi")


def _watch_users(columns: str) -> None:
    """The catalog epoch trigger of bi.users (migration 0009), watching these columns."""
    op.execute("DROP TRIGGER bump_catalog_epoch ON bi.users")
    op.execute(
        f"CREATE CONSTRAINT TRIGGER bump_catalog_epoch AFTER INSERT OR DELETE OR UPDATE OF {columns} ON bi.users "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bi.bump_catalog_epoch()"
    )
