"""Schema version 3: the validated facility frame per revision; indexes on the stripped ids.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

``atlas_snapshot`` keeps the validated, annotated facilities of one revision (Arrow IPC,
``geo.store.snapshot``) so opening a store for serving does not validate every row again;
``ix_facilities_trim_id`` / ``ix_facilities_trim_parent`` let the incremental check find a
changed row's duplicates, children and ancestors without reading the whole table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "atlas_snapshot",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        comment="校验后的设施表 (缓存) / the validated facility frame of one revision: a cache "
        "that lets opening skip revalidating every row",
    )
    op.create_index("ix_facilities_trim_id", "facilities", [sa.text("trim(id)")])
    op.create_index("ix_facilities_trim_parent", "facilities", [sa.text("trim(parent_id)")])
    op.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("ix_facilities_trim_parent", table_name="facilities")
    op.drop_index("ix_facilities_trim_id", table_name="facilities")
    op.drop_table("atlas_snapshot")
    op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
