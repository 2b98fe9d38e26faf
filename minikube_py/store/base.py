"""The store interface the API server talks to.

Why a Protocol: the API server needs only a handful of operations from its storage — read one object, read
a collection at a consistent revision, create, compare-and-swap update, delete, and replay the change log
from a revision for watch resumes. SQLite (`sqlite.py`) is the embedded default; an etcd implementation
would plug in at exactly this boundary (etcd's mod_revision is our `resourceVersion`, its watch-from-rev
is `events_since`).

Objects are plain dicts shaped like Kubernetes JSON. The store owns `metadata.resourceVersion`: it writes
the new global revision into every object it stores and returns the stored copy. Everything else in the
object is the caller's business.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol


class StoreError(Exception):
    """Base of the store's own errors; the API server turns them into Kubernetes `Status` answers."""


class AlreadyExists(StoreError):
    pass


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """Compare-and-swap failed: the stored revision is not the one the caller read."""


class Compacted(StoreError):
    """The requested revision is older than the oldest event the log still holds (watch → 410 Gone)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"revision {requested} is older than the compacted revision {oldest}")
        self.requested = requested
        self.oldest = oldest


@dataclass(frozen=True)
class Event:
    """One committed change. `object` carries the new revision as its resourceVersion (also for DELETED,
    like Kubernetes: the deleted object at the revision of the delete). `prev` is the state before the change
    (None for ADDED); watchers with selectors need it to turn "stopped matching" into DELETED."""

    revision: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: str
    namespace: str  # "" for cluster-scoped
    name: str
    object: dict
    prev: dict | None


Listener = Callable[[Event], None]


class Store(Protocol):
    """Storage for API objects, keyed by (resource plural, namespace or "", name)."""

    @property
    def revision(self) -> int:
        """The revision of the last committed write (0 for an empty store)."""

    async def get(self, resource: str, namespace: str, name: str) -> dict | None: ...

    async def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict], int]:
        """All objects of a resource (optionally of one namespace), and the revision they are consistent at."""

    async def create(self, resource: str, namespace: str, name: str, obj: dict) -> dict:
        """Store a new object; raises AlreadyExists. Returns the stored copy (with resourceVersion)."""

    async def update(self, resource: str, namespace: str, name: str, obj: dict, expected_revision: int) -> dict:
        """Replace an object only if its stored revision is still `expected_revision` (else Conflict;
        NotFound if it is gone)."""

    async def delete(self, resource: str, namespace: str, name: str,
                     expected_revision: int | None = None) -> dict:
        """Remove an object (optionally only at `expected_revision`); returns it at the delete's revision."""

    async def events_since(self, revision: int, limit: int | None = None) -> list[Event]:
        """Committed events with revision > `revision`, oldest first; raises Compacted if some are gone."""

    async def compact(self, keep: int) -> int:
        """Drop all but the last `keep` events; returns the new compacted revision."""

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` on the event loop, in revision order, after each commit and before the
        writer's await returns."""

    async def close(self) -> None: ...
