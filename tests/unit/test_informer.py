"""Informer behaviour against a fake API at the client boundary: list, watch, relist after 410."""
import asyncio

from minikube_py.client.client import Gone
from minikube_py.client.informer import Informer


def pod(name: str, rv: int, **labels: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv), "labels": labels}}


class FakeClient:
    """Serves scripted lists and watch streams; a watch with no script left blocks like an idle stream."""

    def __init__(self, lists: list[list[dict]], watches: list[list[tuple[str, dict]] | Exception]) -> None:
        self.lists = lists
        self.watches = watches
        self.list_calls = 0

    async def list(self, plural, namespace=None, **kw):
        items = self.lists[min(self.list_calls, len(self.lists) - 1)]
        self.list_calls += 1
        rv = max([int(o["metadata"]["resourceVersion"]) for o in items] or [0])
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}, "items": items}

    async def watch(self, plural, namespace=None, **kw):
        if not self.watches:
            await asyncio.Event().wait()
        script = self.watches.pop(0)
        if isinstance(script, Exception):
            raise script
        for event in script:
            yield event
        await asyncio.Event().wait()


async def settle():
    for _ in range(20):
        await asyncio.sleep(0)


async def test_list_then_watch_keeps_cache_and_calls_handlers_in_order():
    client = FakeClient([[pod("a", 1)]], [[("ADDED", pod("b", 2)), ("MODIFIED", pod("a", 3, x="1")),
                                           ("DELETED", pod("b", 4))]])
    seen: list[tuple] = []
    inf = Informer(client, "pods")
    inf.add_handlers(on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
                     on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
                     on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])))
    await inf.start()
    await settle()
    assert seen == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
    assert inf.keys() == ["default/a"]
    assert inf.get("default/a")["metadata"]["labels"] == {"x": "1"}
    assert inf.get("default/a")["kind"] == "Pod"
    await inf.stop()


async def test_gone_relists_and_reports_what_was_missed():
    # After the first list (a, b), the watch expires; the relist shows b deleted, a changed, c new.
    client = FakeClient([[pod("a", 1), pod("b", 2)], [pod("a", 7), pod("c", 8)]],
                        [Gone(410, {"reason": "Expired"}), []])
    seen: list[tuple] = []
    inf = Informer(client, "pods")
    inf.add_handlers(on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
                     on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
                     on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])))
    await inf.start()
    await settle()
    assert client.list_calls == 2
    assert sorted(seen[2:]) == [("add", "c"), ("delete", "b"), ("update", "a")]
    assert sorted(inf.keys()) == ["default/a", "default/c"]
    await inf.stop()


async def test_handler_added_after_sync_is_replayed_the_cache_and_a_failing_handler_is_contained():
    client = FakeClient([[pod("a", 1)]], [[("ADDED", pod("b", 2))]])
    inf = Informer(client, "pods")
    inf.add_handlers(on_add=lambda o: 1 / 0)
    await inf.start()
    late: list[str] = []
    inf.add_handlers(on_add=lambda o: late.append(o["metadata"]["name"]))
    await settle()
    assert sorted(late) == ["a", "b"]
    await inf.stop()
