"""SQLite implementation of the store (the embedded default).

Durability: WAL journal with `synchronous=FULL`, so a commit is on disk before it returns, and the API
server acknowledges a write only after that. `kill -9` can therefore lose nothing that got a 201/200.

Revisions: one global counter, bumped by every write and used as `resourceVersion` (like etcd's revision).
Each write is one transaction that updates the `objects` row, appends to the `events` log and stores the
counter, so the log, the objects and the counter can never disagree, even after a crash.

Threading: sqlite calls block, and the whole control plane is one asyncio process on two cores. All calls
run on one dedicated thread (one connection, no locking games); writes are additionally serialised by an
asyncio lock so that listeners hear about commits in revision order, before the writer's `await` returns.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any, Callable

from .base import AlreadyExists, Compacted, Conflict, Event, Listener, NotFound

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    revision  INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    revision  INTEGER PRIMARY KEY,
    type      TEXT NOT NULL,
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    data      TEXT NOT NULL,
    prev      TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

DEFAULT_KEEP_EVENTS = 20000


def _dumps(obj: dict | None) -> str | None:
    return None if obj is None else json.dumps(obj, separators=(",", ":"))


def _with_revision(obj: dict, revision: int) -> dict:
    out = copy.deepcopy(obj)
    out.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return out


class SqliteStore:
    """The `Store` protocol on one SQLite file. Open with `await SqliteStore.open(path)`."""

    def __init__(self, path: Path, keep_events: int = DEFAULT_KEEP_EVENTS) -> None:
        self.path = Path(path)
        self.keep_events = keep_events
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._write_lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._conn: sqlite3.Connection | None = None
        self._revision = 0
        self._compacted = 0
        self._writes_since_compaction = 0

    @classmethod
    async def open(cls, path: Path, keep_events: int = DEFAULT_KEEP_EVENTS) -> "SqliteStore":
        store = cls(path, keep_events)
        await store._run(store._open_sync)
        return store

    # --- thread plumbing ---------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        self._conn = conn
        row = conn.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        self._revision = row[0] if row else 0
        row = conn.execute("SELECT value FROM meta WHERE key='compacted'").fetchone()
        self._compacted = row[0] if row else 0

    # --- reads -------------------------------------------------------------------------------------
    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    async def get(self, resource: str, namespace: str, name: str) -> dict | None:
        def q() -> dict | None:
            row = self._conn.execute(
                "SELECT data FROM objects WHERE resource=? AND namespace=? AND name=?",
                (resource, namespace, name)).fetchone()
            return json.loads(row[0]) if row else None
        return await self._run(q)

    async def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict], int]:
        def q() -> tuple[list[dict], int]:
            # One thread, autocommit reads: the rows and the counter come from the same committed state.
            if namespace is None:
                rows = self._conn.execute(
                    "SELECT data FROM objects WHERE resource=? ORDER BY namespace, name", (resource,)).fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT data FROM objects WHERE resource=? AND namespace=? ORDER BY name",
                    (resource, namespace)).fetchall()
            return [json.loads(r[0]) for r in rows], self._revision
        return await self._run(q)

    async def events_since(self, revision: int, limit: int | None = None) -> list[Event]:
        def q() -> list[Event]:
            if revision < self._compacted:
                raise Compacted(revision, self._compacted)
            sql = "SELECT revision, type, resource, namespace, name, data, prev FROM events WHERE revision > ? ORDER BY revision"
            args: tuple = (revision,)
            if limit is not None:
                sql += " LIMIT ?"
                args = (revision, limit)
            return [Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]) if r[6] else None)
                    for r in self._conn.execute(sql, args).fetchall()]
        return await self._run(q)

    # --- writes ------------------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _commit_sync(self, event_type: str, resource: str, namespace: str, name: str,
                     new: dict | None, stored: dict | None, expected: int | None) -> Event:
        """One write transaction. `new` is None for a delete; `stored` is filled in by us."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT revision, data FROM objects WHERE resource=? AND namespace=? AND name=?",
                               (resource, namespace, name)).fetchone()
            if event_type == "ADDED":
                if row:
                    raise AlreadyExists(f"{resource} {namespace}/{name}")
            else:
                if not row:
                    raise NotFound(f"{resource} {namespace}/{name}")
                if expected is not None and row[0] != expected:
                    raise Conflict(f"{resource} {namespace}/{name}: revision {row[0]} != {expected}")
            prev = json.loads(row[1]) if row else None
            revision = self._revision + 1
            if new is None:
                obj = _with_revision(prev, revision)
                conn.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                             (resource, namespace, name))
            else:
                obj = _with_revision(new, revision)
                conn.execute("INSERT OR REPLACE INTO objects (resource, namespace, name, revision, data) "
                             "VALUES (?, ?, ?, ?, ?)", (resource, namespace, name, revision, _dumps(obj)))
            conn.execute("INSERT INTO events (revision, type, resource, namespace, name, data, prev) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (revision, event_type, resource, namespace, name, _dumps(obj), _dumps(prev)))
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('revision', ?)", (revision,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._revision = revision
        return Event(revision, event_type, resource, namespace, name, obj, prev)

    async def _write(self, *args: Any) -> Event:
        # Shielded: if the caller is cancelled (its HTTP client hung up), the commit and its announcement
        # to listeners still happen together; a committed but unannounced event would be a watch gap.
        return await asyncio.shield(self._write_locked(*args))

    async def _write_locked(self, *args: Any) -> Event:
        async with self._write_lock:
            event = await self._run(self._commit_sync, *args)
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:  # a broken watcher must not break writes
                    log.exception("store listener failed")
            self._writes_since_compaction += 1
            if self._writes_since_compaction >= max(100, self.keep_events // 10):
                self._writes_since_compaction = 0
                await self._run(self._compact_sync, self.keep_events)
        return event

    async def create(self, resource: str, namespace: str, name: str, obj: dict) -> dict:
        return (await self._write("ADDED", resource, namespace, name, obj, None, None)).object

    async def update(self, resource: str, namespace: str, name: str, obj: dict, expected_revision: int) -> dict:
        return (await self._write("MODIFIED", resource, namespace, name, obj, None, expected_revision)).object

    async def delete(self, resource: str, namespace: str, name: str,
                     expected_revision: int | None = None) -> dict:
        return (await self._write("DELETED", resource, namespace, name, None, None, expected_revision)).object

    # --- compaction --------------------------------------------------------------------------------
    def _compact_sync(self, keep: int) -> int:
        cutoff = self._revision - keep
        if cutoff > self._compacted:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM events WHERE revision <= ?", (cutoff,))
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted', ?)", (cutoff,))
            self._conn.execute("COMMIT")
            self._compacted = cutoff
        return self._compacted

    async def compact(self, keep: int) -> int:
        async with self._write_lock:
            return await self._run(self._compact_sync, keep)

    async def integrity_check(self) -> str:
        return await self._run(lambda: self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    async def close(self) -> None:
        async with self._write_lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await self._run(conn.close)
        self._executor.shutdown(wait=True)
