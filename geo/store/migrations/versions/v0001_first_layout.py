"""The first layout (schema version 1): facilities, history, users, layers, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

Stores made before migrations existed carry ``meta.schema_version = 1`` and no
``alembic_version`` table: ``geo.store.migrate`` stamps them with this revision before it
upgrades them. A new store is made at the newest layout by ``store init`` (the tables of
``geo.store.schema.build_metadata``) and stamped with the head revision, so this baseline
has no DDL of its own.
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
