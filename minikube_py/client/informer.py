"""Informer: list + watch one resource into a local read-only cache, and tell handlers what changed.

Why: controllers, the agent, the proxy and the DNS server all need "the current set of X" and "X changed".
Polling the API would cost a request per component per period and still see changes late; an informer costs
one long-lived watch and sees them at once. On a 410 (our resourceVersion fell out of the server's event
log) or a broken stream, it relists and diffs the new list against the cache, so handlers see the changes
they missed as ordinary add/update/delete calls. Nothing is lost, at worst seen late.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from minikube_py.api.resources import RESOURCES
from minikube_py.client.client import ApiClient, ApiError, Gone

log = logging.getLogger(__name__)

AddHandler = Callable[[dict], None]
UpdateHandler = Callable[[dict, dict], None]
DeleteHandler = Callable[[dict], None]


def object_key(obj: dict) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def split_key(key: str) -> tuple[str | None, str]:
    ns, _, name = key.rpartition("/")
    return (ns or None), name


class Informer:
    """One resource's cache, kept current by list + watch. Handlers run on the event loop, in order."""

    def __init__(self, client: ApiClient, plural: str, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 relist_backoff: float = 1.0) -> None:
        self.client = client
        self.plural = plural
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.relist_backoff = relist_backoff
        self._cache: dict[str, dict] = {}
        self._handlers: list[tuple[AddHandler | None, UpdateHandler | None, DeleteHandler | None]] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._resource_version: str | None = None

    # --- public surface ----------------------------------------------------------------------------
    def add_handlers(self, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                     on_delete: DeleteHandler | None = None) -> None:
        """Register callbacks; a handler added after sync is replayed the current cache as adds."""
        self._handlers.append((on_add, on_update, on_delete))
        if self._synced.is_set() and on_add:
            for obj in list(self._cache.values()):
                on_add(obj)

    async def start(self) -> None:
        """Start the list/watch loop; return once the first list is in the cache."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer-{self.plural}")
        waiter = asyncio.create_task(self._synced.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done and not self._synced.is_set():
            waiter.cancel()
            self._task.result()  # re-raise why the loop died

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    def get(self, key: str) -> dict | None:
        return self._cache.get(key)

    def list(self, namespace: str | None = None) -> list[dict]:
        if namespace is None:
            return list(self._cache.values())
        return [o for o in self._cache.values() if o["metadata"].get("namespace") == namespace]

    def keys(self) -> list[str]:
        return list(self._cache)

    # --- the loop ----------------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = self.relist_backoff
        while True:
            try:
                if self._resource_version is None:
                    await self._relist()
                async for etype, obj in self.client.watch(
                        self.plural, self.namespace, resource_version=self._resource_version,
                        label_selector=self.label_selector, field_selector=self.field_selector,
                        timeout_seconds=300):
                    self._apply(etype, obj)
                backoff = self.relist_backoff  # a clean end of stream: resume from where we are
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info("%s watch expired; relisting", self.plural)
                self._resource_version = None
            except (ApiError, OSError, asyncio.TimeoutError, ValueError, Exception) as exc:  # noqa: BLE001
                if not self._synced.is_set() and isinstance(exc, ApiError) and exc.status in (401, 403, 404):
                    raise
                log.warning("%s watch failed (%s); retrying in %.1fs", self.plural, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._resource_version = None  # relist: we may have missed events

    async def _relist(self) -> None:
        listed = await self.client.list(self.plural, self.namespace, label_selector=self.label_selector,
                                        field_selector=self.field_selector)
        fresh = {object_key(o): o for o in listed.get("items", [])}
        for obj in fresh.values():
            self._stamp(obj)
        old = self._cache
        self._cache = dict(fresh)
        self._resource_version = listed.get("metadata", {}).get("resourceVersion")
        for key, obj in fresh.items():
            if key not in old:
                self._notify_add(obj)
            elif old[key].get("metadata", {}).get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._notify_update(old[key], obj)
        for key, obj in old.items():
            if key not in fresh:
                self._notify_delete(obj)
        self._synced.set()

    def _stamp(self, obj: dict) -> None:
        """List items come without kind/apiVersion; handlers (events, ownerRefs) need them."""
        res = RESOURCES.get(self.plural)
        if res is not None:
            obj.setdefault("kind", res.kind)
            obj.setdefault("apiVersion", res.api_version)

    def _apply(self, etype: str, obj: dict) -> None:
        rv = obj.get("metadata", {}).get("resourceVersion")
        if etype == "BOOKMARK":
            self._resource_version = rv or self._resource_version
            return
        key = object_key(obj)
        self._stamp(obj)
        if etype == "DELETED":
            old = self._cache.pop(key, None)
            self._notify_delete(old or obj)
        elif etype in ("ADDED", "MODIFIED"):
            old = self._cache.get(key)
            self._cache[key] = obj
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        if rv:
            self._resource_version = rv

    def _notify_add(self, obj: dict) -> None:
        for on_add, _, _ in self._handlers:
            if on_add:
                self._safe(on_add, obj)

    def _notify_update(self, old: dict, new: dict) -> None:
        for _, on_update, _ in self._handlers:
            if on_update:
                self._safe(on_update, old, new)

    def _notify_delete(self, obj: dict) -> None:
        for _, _, on_delete in self._handlers:
            if on_delete:
                self._safe(on_delete, obj)

    @staticmethod
    def _safe(fn: Callable, *args: dict) -> None:
        """A failing handler must not kill the informer (and with it every other handler's view)."""
        try:
            fn(*args)
        except Exception:  # noqa: BLE001
            log.exception("informer handler %s failed", getattr(fn, "__qualname__", fn))
