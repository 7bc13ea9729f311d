"""Users, the built-in roles and the one table of role to permissions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Written out here, not imported: a migration must mean the same thing forever.
BUILT_IN_ROLES = {
    "admin": (
        "Everything, including users, roles and the audit log",
        [
            "datasets:read",
            "datasets:write",
            "metrics:read",
            "metrics:write",
            "queries:run",
            "dashboards:read",
            "dashboards:write",
            "phi:read",
            "models:read",
            "models:train",
            "models:predict",
            "jobs:run",
            "users:manage",
            "audit:read",
        ],
    ),
    "analyst": (
        "Loads data, defines metrics and dashboards, trains and uses models",
        [
            "datasets:read",
            "datasets:write",
            "metrics:read",
            "metrics:write",
            "queries:run",
            "dashboards:read",
            "dashboards:write",
            "models:read",
            "models:train",
            "models:predict",
            "jobs:run",
        ],
    ),
    "viewer": (
        "Looks at datasets, metrics, dashboards and models; changes nothing",
        ["datasets:read", "metrics:read", "queries:run", "dashboards:read", "models:read"],
    ),
}


def upgrade() -> None:
    roles = op.create_table(
        "roles",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("built_in", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint(r"name ~ '^[a-z][a-z0-9_]{0,62}$'", name="roles_name_is_identifier"),
        schema="bi",
    )
    role_permissions = op.create_table(
        "role_permissions",
        sa.Column("role", sa.Text, sa.ForeignKey("bi.roles.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("permission", sa.Text, primary_key=True),
        schema="bi",
    )
    op.create_table(
        "users",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(r"username ~ '^[a-z0-9][a-z0-9_.@-]{0,127}$'", name="users_username_format"),
        schema="bi",
    )
    op.create_index("users_username_key", "users", ["username"], unique=True, schema="bi")
    op.create_table(
        "user_roles",
        sa.Column(
            "user_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("bi.users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.Text, sa.ForeignKey("bi.roles.name", ondelete="CASCADE"), primary_key=True),
        schema="bi",
    )
    op.bulk_insert(
        roles,
        [
            {"name": name, "description": description, "built_in": True}
            for name, (description, _) in BUILT_IN_ROLES.items()
        ],
    )
    op.bulk_insert(
        role_permissions,
        [
            {"role": name, "permission": permission}
            for name, (_, permissions) in BUILT_IN_ROLES.items()
            for permission in permissions
        ],
    )


def downgrade() -> None:
    op.drop_table("user_roles", schema="bi")
    op.drop_table("users", schema="bi")
    op.drop_table("role_permissions", schema="bi")
    op.drop_table("roles", schema="bi")
