"""Sessions ended by logout: their tokens are refused until they would have expired anyway.

A token is a signed statement that stays valid until its `exp`; logging out must end it
sooner, on every service and process. One row per ended session (the token's `sid`),
kept until no token of that session can still be valid. An insert moves the catalog
epoch (migration 0009), so each process reads the caller again on their next request,
with the ended sessions among what it reads: the check costs no extra read per request.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE bi.ended_sessions ("
        " session_id text PRIMARY KEY,"
        " user_id uuid NOT NULL REFERENCES bi.users (id) ON DELETE CASCADE,"
        " ended_at timestamptz NOT NULL DEFAULT now(),"
        # Past this, every token of the session has expired by itself and the row can go.
        " expires_at timestamptz NOT NULL)"
    )
    op.execute("CREATE INDEX ended_sessions_user ON bi.ended_sessions (user_id, expires_at)")
    # Inserts only: pruning expired rows changes nothing a caller may do.
    op.execute(
        "CREATE CONSTRAINT TRIGGER bump_catalog_epoch AFTER INSERT ON bi.ended_sessions "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bi.bump_catalog_epoch()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE bi.ended_sessions")
