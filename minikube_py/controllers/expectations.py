"""Expectations: what a controller has asked for and not yet seen in its cache.

Why: a controller acts on its informer cache, and the cache lags the API by a watch round-trip. Without
this, a ReplicaSet that creates 3 pods and is synced again 5 ms later (a status update of its own, say)
still sees 1 pod in the cache and creates 3 more. So, like Kubernetes' `ControllerExpectations`, we remember
per controller key "I expect N more adds and these M deletes", lower the counts as the informer reports the
objects, and skip the *manage* step (never the status step) until the counts reach zero.

A TTL (5 minutes, as in Kubernetes) bounds the damage when an event is lost for good: after it, the
controller trusts its cache again. Expectations are in memory only; a restarted controller starts with
none and relies on its first full list, which is exactly right.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

EXPECTATIONS_TTL = 300.0


@dataclass
class _Pending:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    stamp: float = field(default_factory=time.monotonic)

    def fulfilled(self) -> bool:
        return self.adds <= 0 and not self.deletes


class Expectations:
    """Per-key pending creations (a count) and deletions (the keys of the objects being deleted)."""

    def __init__(self, ttl: float = EXPECTATIONS_TTL, clock=time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._pending: dict[str, _Pending] = {}

    def satisfied(self, key: str) -> bool:
        """True when the controller may act on *key*: nothing pending, all observed, or the TTL passed."""
        p = self._pending.get(key)
        if p is None or p.fulfilled():
            return True
        return self._clock() - p.stamp > self.ttl

    def expect_creations(self, key: str, count: int) -> None:
        self._pending[key] = _Pending(adds=count, stamp=self._clock())

    def expect_deletions(self, key: str, object_keys: list[str]) -> None:
        self._pending[key] = _Pending(deletes=set(object_keys), stamp=self._clock())

    def creation_observed(self, key: str) -> None:
        p = self._pending.get(key)
        if p is not None and p.adds > 0:
            p.adds -= 1

    def deletion_observed(self, key: str, object_key: str) -> None:
        p = self._pending.get(key)
        if p is not None:
            p.deletes.discard(object_key)

    def forget(self, key: str) -> None:
        """Drop everything for *key* (its controller object is gone)."""
        self._pending.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        """(adds, deletes) still expected; for tests and logs."""
        p = self._pending.get(key)
        return (max(p.adds, 0), len(p.deletes)) if p else (0, 0)
