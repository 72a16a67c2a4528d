"""Schema version 2: failed sign-ins, for the dashboard's rate limit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

``login_failures`` keeps each failed sign-in (the name typed, the client's address, UTC
time) so every server process on the store counts the same failures per account and per
address. Stores made by the release that added it before migrations existed carry
``meta.schema_version = 2`` and no ``alembic_version``: ``geo.store.migrate`` stamps them
with this revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("time", sa.Text, nullable=False),
        comment="登录失败记录 (限速用) / failed sign-ins, for the rate limit",
    )
    op.create_index("ix_login_failures_account", "login_failures", ["account", "time"])
    op.create_index("ix_login_failures_address", "login_failures", ["address", "time"])
    op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("ix_login_failures_address", table_name="login_failures")
    op.drop_index("ix_login_failures_account", table_name="login_failures")
    op.drop_table("login_failures")
    op.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
