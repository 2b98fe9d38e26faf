"""Watch: fan committed store events out to HTTP watch streams.

How a watch gets every event exactly once and in order:
1. subscribe to the hub first (a queue per watcher, filled by the store's commit listener in revision
   order);
2. then read the starting point — either the current state (synthetic ADDED events, the list's revision
   is the start) or the store's event log after the requested resourceVersion (410 if compacted);
3. then drain the queue, skipping everything at or below the last revision already sent.
Because the subscription exists before the starting point is read, nothing committed in between is lost,
and the revision check drops the overlap.

Selectors follow Kubernetes: an object that stops matching is sent as DELETED, one that starts matching as
ADDED (that is why events carry the previous state).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from minikube_py.store import Event, Store

log = logging.getLogger(__name__)

MAX_QUEUE = 50000  # a watcher this far behind is cut off; its client re-watches from its last revision


class Subscription:
    def __init__(self, hub: "WatchHub") -> None:
        self.hub = hub
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.overflowed = False

    def push(self, event: Event | None) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= MAX_QUEUE:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)

    def close(self) -> None:
        self.hub.unsubscribe(self)


class WatchHub:
    """Receives every commit from the store (listener) and copies it to each subscriber's queue."""

    def __init__(self, store: Store) -> None:
        self._subs: set[Subscription] = set()
        self.closed = False
        store.add_listener(self._on_event)

    def _on_event(self, event: Event) -> None:
        for sub in list(self._subs):
            sub.push(event)

    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def close_all(self) -> None:
        """Shutdown: every open watch stream ends (None is the end marker)."""
        self.closed = True
        for sub in list(self._subs):
            sub.queue.put_nowait(None)
        self._subs.clear()

    @property
    def watchers(self) -> int:
        return len(self._subs)


@dataclass
class WatchFilter:
    resource: str
    namespace: str | None
    matches: Callable[[dict], bool]  # label and field selectors; True when there are none

    def _in_scope(self, event: Event) -> bool:
        return event.resource == self.resource and (self.namespace is None or event.namespace == self.namespace)

    def translate(self, event: Event) -> tuple[str, dict] | None:
        """What this watcher should see for *event*, or None."""
        if not self._in_scope(event):
            return None
        if event.type == "ADDED":
            return ("ADDED", event.object) if self.matches(event.object) else None
        if event.type == "DELETED":
            return ("DELETED", event.object) if self.matches(event.prev or event.object) else None
        was = event.prev is not None and self.matches(event.prev)
        now = self.matches(event.object)
        if was and now:
            return "MODIFIED", event.object
        if was:
            return "DELETED", event.object
        if now:
            return "ADDED", event.object
        return None


async def watch_events(hub: WatchHub, store: Store, flt: WatchFilter, resource_version: int | None,
                       bookmark_every: float | None = None) -> AsyncIterator[tuple[str, dict | int]]:
    """Yield `(type, object)` for the watch, forever (the caller applies timeouts), in revision order.

    `resource_version` None (or 0) starts with synthetic ADDED events for the current state. Otherwise
    events after it are replayed from the store's log (raises store.Compacted when too old).
    With `bookmark_every`, an idle stream yields `("BOOKMARK", revision)` that often.
    Ends when the hub closes or the watcher falls too far behind.
    """
    sub = hub.subscribe()
    try:
        last = 0
        if not resource_version:
            items, last = await store.list(flt.resource, flt.namespace)
            for obj in items:
                if flt.matches(obj):
                    yield "ADDED", obj
        else:
            last = resource_version
            # Page through the log so a long gap doesn't need one huge read.
            while True:
                backlog = await store.events_since(last, limit=1000)
                for event in backlog:
                    last = event.revision
                    out = flt.translate(event)
                    if out is not None:
                        yield out
                if len(backlog) < 1000:
                    break
        while True:
            if bookmark_every:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), bookmark_every)
                except asyncio.TimeoutError:
                    # Only revisions this watcher has itself seen: a commit whose listener has not run yet
                    # must not be covered by a bookmark, or a resume from it would skip that event.
                    yield "BOOKMARK", last
                    continue
            else:
                event = await sub.queue.get()
            if event is None:
                return
            if event.revision <= last:
                continue
            last = event.revision
            out = flt.translate(event)
            if out is not None:
                yield out
    finally:
        sub.close()
