"""The kiosk's durable store: SQLite with an outbox, the hash-chained logbook, atomic files."""

from kiosk.store.atomic import atomic_write
from kiosk.store.db import Store, StoreError
from kiosk.store.logbook import Logbook, Verification, verify_entries

__all__ = ["Logbook", "Store", "StoreError", "Verification", "atomic_write", "verify_entries"]
