"""The model registry: models, their versions (one trained artifact each) and aliases.

A version records everything needed to trust and to repeat it: the dataset and its
data_version, target, features with their types, algorithm and params (with the split
seed), held-out metrics beside a baseline, and the artifact's key and SHA-256.
Version numbers come from a counter on the model, so a deleted version's number is
never given again and a cached model keyed by it can never be mistaken for another.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

IDENTIFIER = r"'^[a-z][a-z0-9_]{0,62}$'"


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("task", sa.Text, nullable=False),
        # Predictions of one name mean one thing: the target stays, the data and features may change.
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"name ~ {IDENTIFIER}", name="models_name_is_identifier"),
        sa.CheckConstraint("task IN ('classification', 'regression')", name="models_task"),
        schema="bi",
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "model_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.models.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("algorithm", sa.Text, nullable=False),
        sa.Column("params", postgresql.JSONB, nullable=False),
        sa.Column("metrics", postgresql.JSONB, nullable=False),
        # By name, not by key: a model outlives a dropped dataset, and says what it was trained on.
        sa.Column("dataset", sa.Text, nullable=False),
        sa.Column("data_version", sa.Integer, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("features", postgresql.JSONB, nullable=False),
        sa.Column("classes", postgresql.JSONB),
        # Rows read, dropped, trained on and tested on; the time taken; library versions.
        sa.Column("training", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("artifact_key", sa.Text, nullable=False),
        sa.Column("artifact_sha256", sa.Text, nullable=False),
        sa.Column("artifact_bytes", sa.BigInteger, nullable=False),
        # The Celery job that trained it: a retried job finds its version instead of adding one.
        sa.Column("job_id", sa.Text),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("version >= 1", name="model_versions_version_positive"),
        sa.CheckConstraint("artifact_sha256 ~ '^[0-9a-f]{64}$'", name="model_versions_sha256"),
        sa.UniqueConstraint("model_id", "job_id", name="model_versions_job_key"),
        schema="bi",
    )
    op.create_table(
        "model_aliases",
        sa.Column(
            "model_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.models.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("alias", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"alias ~ {IDENTIFIER}", name="model_aliases_alias_is_identifier"),
        # A version an alias points at cannot be deleted, even by hand in psql. NO ACTION, not
        # RESTRICT: checked at the end of the statement, so dropping a whole model cascades.
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["bi.model_versions.model_id", "bi.model_versions.version"],
            name="model_aliases_version_fkey",
        ),
        schema="bi",
    )


def downgrade() -> None:
    op.drop_table("model_aliases", schema="bi")
    op.drop_table("model_versions", schema="bi")
    op.drop_table("models", schema="bi")
