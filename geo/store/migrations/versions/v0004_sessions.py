"""Schema version 4: server-side sign-in sessions, each revocable on its own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

``sessions`` keeps one row per sign-in of the dashboard: a short public id (what
``newtown users sessions`` lists and ``newtown users revoke --session`` takes), the SHA-256
of the secret token the signed cookie carries (never the token itself), the account, UTC
times (created, last seen, expires) and the client's address and browser. The dashboard
checks the row on every request, so deleting it ends that sign-in at once in every process.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("last_seen", sa.Text, nullable=False),
        sa.Column("expires", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False, server_default=""),
        sa.Column("agent", sa.Text, nullable=False, server_default=""),
        comment="登录会话 (仅存令牌哈希) / sign-in sessions (token hashes only), revocable",
    )
    op.create_index("ix_sessions_token", "sessions", ["token_hash"], unique=True)
    op.create_index("ix_sessions_user", "sessions", ["user"])
    op.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("ix_sessions_user", table_name="sessions")
    op.drop_index("ix_sessions_token", table_name="sessions")
    op.drop_table("sessions")
    op.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
