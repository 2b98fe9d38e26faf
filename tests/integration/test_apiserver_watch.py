"""Watch: every event, in order, no gaps, to many watchers; resume from an old resourceVersion; 410 when
the log was compacted past it; selectors turn "stopped matching" into DELETED."""
from __future__ import annotations

import asyncio

import pytest

from minikube_py.client import ApiClient, Conflict
from minikube_py.client.client import Gone


@pytest.fixture(scope="module")
def cp_options() -> dict:
    return {"keep_events": 3000}  # room for the fan-out and resume tests' events


def cm(name: str, value: str = "0", labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}}, "data": {"v": value}}


async def collect(client: ApiClient, rv: str, n: int, out: list, **kw) -> None:
    async for etype, obj in client.watch("configmaps", "default", resource_version=rv, allow_bookmarks=False, **kw):
        out.append((etype, obj["metadata"]["name"], obj["data"]["v"], int(obj["metadata"]["resourceVersion"])))
        if len(out) >= n:
            return


async def test_twenty_watchers_see_every_update_in_order(client):
    obj = await client.create("configmaps", cm("burst"), "default")
    start_rv = obj["metadata"]["resourceVersion"]
    results: list[list] = [[] for _ in range(20)]
    watchers = [asyncio.create_task(collect(client, start_rv, 1000, results[i],
                                            field_selector="metadata.name=burst")) for i in range(20)]
    await asyncio.sleep(0.5)  # watchers connected; the updates below land while they stream

    async def writer(k: int) -> list[int]:
        revs = []
        for j in range(250):
            cur = await client.get("configmaps", "burst", "default")
            # Until it lands: four writers race on one object (about three 409s per write), and on a busy
            # machine one writer can lose fifty times in a row; a bound here tested fairness, not watch.
            while True:
                cur["data"]["v"] = f"{k}-{j}"
                try:
                    done = await client.update("configmaps", cur)
                    revs.append(int(done["metadata"]["resourceVersion"]))
                    break
                except Conflict:
                    cur = await client.get("configmaps", "burst", "default")
        return revs

    written = sorted(r for revs in await asyncio.gather(*(writer(k) for k in range(4))) for r in revs)
    assert len(written) == 1000
    await asyncio.wait_for(asyncio.gather(*watchers), 120)
    for events in results:
        assert [e[0] for e in events] == ["MODIFIED"] * 1000
        assert [e[3] for e in events] == written  # every write, in commit order, no gaps, no duplicates
    # The last event carries the final state.
    final = await client.get("configmaps", "burst", "default")
    assert results[0][-1][2] == final["data"]["v"]


async def test_resume_replays_missed_events_in_order(client):
    first = await client.create("configmaps", cm("resume", "a"), "default")
    rv = first["metadata"]["resourceVersion"]
    cur = first
    for v in ("b", "c", "d"):
        cur["data"]["v"] = v
        cur = await client.update("configmaps", cur)
    await client.delete("configmaps", "resume", "default")
    events: list = []
    await asyncio.wait_for(collect(client, rv, 4, events, field_selector="metadata.name=resume"), 10)
    assert [(e[0], e[2]) for e in events] == [("MODIFIED", "b"), ("MODIFIED", "c"), ("MODIFIED", "d"),
                                              ("DELETED", "d")]


async def test_no_resource_version_starts_with_current_state(client):
    await client.create("configmaps", cm("initial-a", labels={"set": "initial"}), "default")
    await client.create("configmaps", cm("initial-b", labels={"set": "initial"}), "default")
    events: list = []
    await asyncio.wait_for(collect(client, None, 2, events, label_selector="set=initial"), 10)
    assert sorted((e[0], e[1]) for e in events) == [("ADDED", "initial-a"), ("ADDED", "initial-b")]


async def test_selector_changes_become_added_and_deleted(client):
    obj = await client.create("configmaps", cm("moving", labels={"app": "web"}), "default")
    events: list = []
    task = asyncio.create_task(collect(client, obj["metadata"]["resourceVersion"], 3, events,
                                       label_selector="app=web"))
    await asyncio.sleep(0.2)
    await client.patch("configmaps", "moving", {"metadata": {"labels": {"app": "db"}}}, "default")
    await client.patch("configmaps", "moving", {"data": {"v": "ignored"}}, "default")  # not matching: unseen
    await client.patch("configmaps", "moving", {"metadata": {"labels": {"app": "web"}}}, "default")
    await client.patch("configmaps", "moving", {"data": {"v": "seen"}}, "default")
    await asyncio.wait_for(task, 10)
    assert [(e[0], e[2]) for e in events] == [("DELETED", "0"), ("ADDED", "ignored"), ("MODIFIED", "seen")]


async def test_compacted_resource_version_is_gone(client, cp):
    old = await client.create("configmaps", cm("old"), "default")
    await client.create("configmaps", cm("old-2"), "default")
    first_page = await client.request("GET", "/api/v1/namespaces/default/configmaps", params={"limit": "1"})
    assert first_page["metadata"]["continue"]
    # keep_events=3000: push the old revision out of the log (compaction runs every 300 writes).
    cur = old
    for i in range(3400):
        cur = await client.patch("configmaps", "old", {"data": {"v": str(i)}}, "default")
    with pytest.raises(Gone) as e:
        async for _ in client.watch("configmaps", "default", resource_version=old["metadata"]["resourceVersion"]):
            break
    assert e.value.status == 410 and e.value.reason == "Expired"
    assert "too old resource version" in e.value.message
    # A chunked list's later page can no longer be the first page's snapshot either: 410, start over.
    with pytest.raises(Gone) as e:
        await client.request("GET", "/api/v1/namespaces/default/configmaps",
                             params={"limit": "1", "continue": first_page["metadata"]["continue"]})
    assert e.value.status == 410 and "continue parameter is too old" in e.value.message
    # A recent revision still resumes.
    events: list = []
    task = asyncio.create_task(collect(client, cur["metadata"]["resourceVersion"], 1, events,
                                       field_selector="metadata.name=old"))
    await client.patch("configmaps", "old", {"data": {"v": "new"}}, "default")
    await asyncio.wait_for(task, 10)
    assert events[0][2] == "new"


async def test_bookmarks_and_timeout(client):
    events = []
    async for etype, obj in client.watch("configmaps", "kube-system", resource_version=None, timeout_seconds=1,
                                         allow_bookmarks=True):
        events.append(etype)
    assert "ADDED" not in events  # kube-system has no configmaps; the stream simply ends after 1 s
