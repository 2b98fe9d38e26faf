"""Pod workers: one asyncio task per pod uid, each running the level-triggered sync for its pod.

Why not a shared work queue with N workers: a pod sync may block for a long time on purpose (stopping a
container waits up to terminationGracePeriodSeconds; a pull can take minutes), and one slow pod must not
hold up the others. So, like the kubelet's pod workers, each pod gets its own loop, and a burst of wake-ups
for one pod collapses into one sync (a dirty flag, not a queue of events). Syncs of one pod never overlap.

Contract of `sync(uid) -> bool`: level-triggered and idempotent; return True when the pod is finished on
this node (the worker then ends); raising schedules a retry with per-pod exponential backoff.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from minikube_py.client.workqueue import DelayedAdds

log = logging.getLogger(__name__)


class PodWorkers:
    def __init__(self, sync: Callable[[str], Awaitable[bool]], base_retry: float = 1.0, max_retry: float = 30.0) -> None:
        self._sync = sync
        self._tasks: dict[str, asyncio.Task] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._delayed = DelayedAdds()
        self._failures: dict[str, int] = {}
        self.base_retry = base_retry
        self.max_retry = max_retry
        self._closed = False

    def uids(self) -> list[str]:
        return list(self._tasks)

    def enqueue(self, uid: str) -> None:
        """Ask for a sync of *uid* soon (starting its worker if needed)."""
        if self._closed:
            return
        ev = self._wake.get(uid)
        if ev is None:
            ev = self._wake[uid] = asyncio.Event()
            self._tasks[uid] = asyncio.create_task(self._run(uid), name=f"pod-worker-{uid[:8]}")
        ev.set()

    def enqueue_after(self, uid: str, seconds: float) -> None:
        """Sync *uid* after *seconds*; an earlier pending timer wins."""
        if self._closed:
            return
        if seconds <= 0:
            self.enqueue(uid)
            return
        self._delayed.call_later(uid, seconds, self.enqueue)

    async def _run(self, uid: str) -> None:
        ev = self._wake[uid]
        try:
            while True:
                await ev.wait()
                ev.clear()
                try:
                    finished = await self._sync(uid)
                    self._failures.pop(uid, None)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    n = self._failures.get(uid, 0)
                    self._failures[uid] = n + 1
                    delay = min(self.base_retry * 2 ** n, self.max_retry)
                    log.warning("sync of pod %s failed (%s); retry in %.0fs", uid, exc, delay,
                                exc_info=not isinstance(exc, (OSError, RuntimeError)))
                    self.enqueue_after(uid, delay)
                    continue
                if finished and not ev.is_set():
                    return
        finally:
            self._tasks.pop(uid, None)
            self._wake.pop(uid, None)
            self._delayed.cancel(uid)

    async def stop(self) -> None:
        self._closed = True
        self._delayed.cancel_all()
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
