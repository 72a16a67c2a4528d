"""Alembic migrations of the store's layout (run by geo.store.migrate, never by hand)."""
