"""Alembic's entry point: run the migrations on the connection geo.store.migrate hands over.

The store's own code opens the connection and its transaction (the write lock of either
engine), so a failed upgrade leaves the old layout: PostgreSQL and SQLite both roll DDL back.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
