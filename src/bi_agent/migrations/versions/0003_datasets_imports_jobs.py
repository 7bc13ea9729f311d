"""The dataset catalog, the import history and the jobs users started.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

IDENTIFIER = r"'^[a-z][a-z0-9_]{0,62}$'"


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("row_count", sa.BigInteger, nullable=False, server_default="0"),
        # Bumped by every import; part of every cache key, so old answers become unreachable.
        sa.Column("data_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"name ~ {IDENTIFIER}", name="datasets_name_is_identifier"),
        schema="bi",
    )
    op.create_table(
        "dataset_columns",
        sa.Column(
            "dataset_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.datasets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("source_name", sa.Text, nullable=False),
        sa.Column("data_type", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("phi", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint(f"name ~ {IDENTIFIER}", name="dataset_columns_name_is_identifier"),
        sa.CheckConstraint("role IN ('time', 'dimension', 'measure')", name="dataset_columns_role"),
        sa.CheckConstraint(
            "data_type IN ('bigint', 'double precision', 'numeric', 'boolean', 'date', 'timestamptz', 'text')",
            name="dataset_columns_data_type",
        ),
        schema="bi",
    )
    op.create_table(
        "imports",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "dataset_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("object_key", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("file_format", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("rows_imported", sa.BigInteger, nullable=False),
        sa.Column("rows_skipped", sa.BigInteger, nullable=False, server_default="0"),
        # Line numbers and reasons of skipped rows, never their content (it may be PHI).
        sa.Column("skipped_sample", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("column_mapping", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("data_version", sa.Integer, nullable=False),
        sa.Column("job_id", sa.Text),
        sa.Column("imported_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("mode IN ('append', 'replace')", name="imports_mode"),
        # A re-sent file adds nothing: one import per file content and dataset.
        sa.UniqueConstraint("dataset_id", "sha256", name="imports_dataset_sha256_key"),
        schema="bi",
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("summary", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("submitted_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("bi.users.id", ondelete="SET NULL")),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="bi",
    )
    op.create_index("jobs_submitted_at", "jobs", ["submitted_at"], schema="bi")


def downgrade() -> None:
    op.drop_table("jobs", schema="bi")
    op.drop_table("imports", schema="bi")
    op.drop_table("dataset_columns", schema="bi")
    op.drop_table("datasets", schema="bi")
