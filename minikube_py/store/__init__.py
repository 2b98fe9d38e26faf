"""Storage for API objects: the `Store` protocol and its embedded SQLite implementation."""
from .base import AlreadyExists, Compacted, Conflict, Event, NotFound, Store, StoreError
from .sqlite import SqliteStore

__all__ = ["AlreadyExists", "Compacted", "Conflict", "Event", "NotFound", "Store", "StoreError", "SqliteStore"]
