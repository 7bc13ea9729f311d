"""Model versions record why retraining promoted them or not.

`update_ml_models` retrains a model on its dataset's new data and moves `production` to
the new version only when it scores no worse than the production version on the same
held-out rows. The decision (promoted, kept, or latest where no alias is set), its reason
and both scores stay on the new version, so the registry shows why an alias did or did
not move. Null for versions trained by hand.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("decision", postgresql.JSONB), schema="bi")


def downgrade() -> None:
    op.drop_column("model_versions", "decision", schema="bi")
