"""The editable store of facilities: history, review, accounts (GeoPackage file or PostGIS).

``open_store`` / ``init_store`` give a :class:`Store`; see docs/STORE.md.
"""

from geo.store.schema import ACTIONS, REVIEW_STATES, ROLES, SCHEMA_VERSION
from geo.store.store import Change, Session, Store, User, init_store, open_store, upgrade_store

__all__ = [
    "ACTIONS",
    "REVIEW_STATES",
    "ROLES",
    "SCHEMA_VERSION",
    "Change",
    "Session",
    "Store",
    "User",
    "init_store",
    "open_store",
    "upgrade_store",
]
