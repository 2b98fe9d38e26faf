"""The SQLite store: revisions, compare-and-swap, the event log, compaction, listeners."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from minikube_py.store import AlreadyExists, Compacted, Conflict, NotFound, SqliteStore


@pytest.fixture
async def store(tmp_path):
    s = await SqliteStore.open(tmp_path / "store.db", keep_events=1000)
    try:
        yield s
    finally:
        await s.close()


def pod(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


async def test_create_get_list_revisions(store):
    a = await store.create("pods", "default", "a", pod("a"))
    b = await store.create("pods", "other", "b", pod("b"))
    assert int(b["metadata"]["resourceVersion"]) == int(a["metadata"]["resourceVersion"]) + 1
    assert (await store.get("pods", "default", "a")) == a
    assert await store.get("pods", "default", "missing") is None
    items, rev = await store.list("pods")
    assert [i["metadata"]["name"] for i in items] == ["a", "b"] and rev == store.revision
    items, _ = await store.list("pods", "other")
    assert [i["metadata"]["name"] for i in items] == ["b"]
    with pytest.raises(AlreadyExists):
        await store.create("pods", "default", "a", pod("a"))


async def test_compare_and_swap(store):
    a = await store.create("pods", "default", "a", pod("a"))
    rv = int(a["metadata"]["resourceVersion"])
    a2 = await store.update("pods", "default", "a", pod("a", x=1), rv)
    with pytest.raises(Conflict):
        await store.update("pods", "default", "a", pod("a", x=2), rv)
    with pytest.raises(Conflict):
        await store.delete("pods", "default", "a", expected_revision=rv)
    gone = await store.delete("pods", "default", "a", int(a2["metadata"]["resourceVersion"]))
    assert int(gone["metadata"]["resourceVersion"]) == store.revision
    with pytest.raises(NotFound):
        await store.update("pods", "default", "a", pod("a"), 1)
    with pytest.raises(NotFound):
        await store.delete("pods", "default", "a")


async def test_event_log_and_listeners_in_order(store):
    heard = []
    store.add_listener(lambda e: heard.append((e.revision, e.type)))
    start = store.revision
    a = await store.create("pods", "default", "a", pod("a"))
    await store.update("pods", "default", "a", pod("a", x=1), int(a["metadata"]["resourceVersion"]))
    await store.delete("pods", "default", "a")
    events = await store.events_since(start)
    assert [(e.revision, e.type) for e in events] == heard
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1].prev["spec"] == {} and events[1].object["spec"] == {"x": 1}
    assert events[2].object["metadata"]["resourceVersion"] == str(events[2].revision)


async def test_compaction_expires_old_revisions(store):
    for i in range(30):
        await store.create("configmaps", "default", f"c{i}", {"metadata": {"name": f"c{i}"}})
    await store.compact(10)
    assert len(await store.events_since(store.revision - 10)) == 10
    with pytest.raises(Compacted):
        await store.events_since(store.revision - 11)


async def test_concurrent_writes_get_distinct_increasing_revisions(store):
    objs = await asyncio.gather(*(store.create("pods", "default", f"p{i}", pod(f"p{i}")) for i in range(50)))
    revs = sorted(int(o["metadata"]["resourceVersion"]) for o in objs)
    assert revs == list(range(revs[0], revs[0] + 50))


async def test_survives_reopen_and_passes_integrity_check(tmp_path):
    s = await SqliteStore.open(tmp_path / "s.db")
    await s.create("pods", "default", "a", pod("a"))
    rev = s.revision
    await s.close()
    s = await SqliteStore.open(tmp_path / "s.db")
    try:
        assert s.revision == rev
        assert (await s.get("pods", "default", "a"))["metadata"]["resourceVersion"] == str(rev)
        b = await s.create("pods", "default", "b", pod("b"))
        assert int(b["metadata"]["resourceVersion"]) == rev + 1
    finally:
        await s.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
