"""A work queue with client-go semantics, and the Controller base every controller builds on.

The queue holds *keys*, never objects: the sync re-reads current state from the informer caches, so a
burst of events for one key collapses into one sync, and a key is never processed by two workers at once:
- `dirty`: keys waiting to be processed (a set, so adding twice is adding once);
- `processing`: keys a worker holds; a key added while processing goes back to the queue when `done`.
Failures requeue with per-key exponential backoff (`add_rate_limited`), reset by `forget`.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Callable

log = logging.getLogger(__name__)


class ShutDown(Exception):
    pass


class DelayedAdds:
    """Per-key delayed callbacks where the earliest pending one wins (client-go's `AddAfter`): asking again
    for a key with a later deadline changes nothing, an earlier one replaces the pending timer. Shared by
    `WorkQueue.add_after` and the agent's pod workers, which both want "at most one wake-up per key"."""

    def __init__(self) -> None:
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def call_later(self, key: str, seconds: float, callback: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None and existing.when() <= loop.time() + seconds:
            return
        if existing is not None:
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            callback(key)

        self._timers[key] = loop.call_later(seconds, fire)

    def cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class WorkQueue:
    def __init__(self, name: str = "", base_delay: float = 0.005, max_delay: float = 60.0) -> None:
        self.name = name
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._delayed = DelayedAdds()
        self._cond = asyncio.Condition()
        self._shutting_down = False
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wake()

    def add_after(self, key: str, seconds: float) -> None:
        """Add `key` after `seconds`; an earlier pending timer for the key wins (like client-go)."""
        if seconds <= 0:
            self.add(key)
            return
        self._delayed.call_later(key, seconds, self.add)

    def add_rate_limited(self, key: str) -> None:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self.base_delay * (2 ** n), self.max_delay))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> str:
        async with self._cond:
            while not self._queue:
                if self._shutting_down:
                    raise ShutDown()
                await self._cond.wait()
            key = self._queue.popleft()
            self._processing.add(key)
            self._dirty.discard(key)
            return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake()

    def shutdown(self) -> None:
        self._shutting_down = True
        self._delayed.cancel_all()
        self._wake()

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()

        try:
            asyncio.get_running_loop().create_task(notify())
        except RuntimeError:
            pass


class Controller:
    """Base: informers feed keys into one queue; `workers` tasks call `sync(key)`.

    Subclasses set `name`, create informers in `__init__` (registering handlers that only compute a key and
    `self.queue.add(key)`), list them in `self.informers`, and implement `async def sync(self, key)`:
    level-triggered, idempotent; return = done, raise = requeue with backoff.
    """

    name = "controller"
    workers = 2

    def __init__(self) -> None:
        self.queue = WorkQueue(self.name)
        self.informers: list = []

    def enqueue(self, obj: dict) -> None:
        from minikube_py.client.informer import object_key

        self.queue.add(object_key(obj))

    async def sync(self, key: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def run(self, *, own_informers: bool = True) -> None:
        """Start informers, wait for their caches, then run workers until cancelled.

        `own_informers=False`: somebody else (the controller manager's shared factory) has started the
        informers and stops them; this controller must not, or one controller ending would blind the others.
        """
        if own_informers:
            await asyncio.gather(*(inf.start() for inf in self.informers))
        log.info("%s: caches synced, starting %d workers", self.name, self.workers)
        workers = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}")
                   for i in range(self.workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            self.queue.shutdown()
            for w in workers:
                w.cancel()
            if own_informers:
                await asyncio.gather(*(inf.stop() for inf in self.informers), return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("%s: sync %s failed (%s); requeue", self.name, key, exc,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
