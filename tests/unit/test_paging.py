"""api/paging.py: list chunking's pure parts (tokens, pages, rewinding to the first page's revision)."""
from __future__ import annotations

import pytest

from minikube_py.api import paging
from minikube_py.store.base import Event


def obj(name: str, ns: str = "default", rv: int = 1, **extra) -> dict:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv)}, **extra}


def names(objs: list[dict]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def test_pages_walk_every_item_once_in_key_order():
    objs = [obj(n) for n in "edcba"]
    items, cont, remaining = paging.page(objs, 2, 7, None)
    assert names(items) == ["a", "b"] and remaining == 3
    token = paging.decode_continue(cont)
    assert token == paging.Continue(7, "default/b")
    items, cont, remaining = paging.page(objs, 2, 7, token.start)
    assert names(items) == ["c", "d"] and remaining == 1
    items, cont, remaining = paging.page(objs, 2, 7, paging.decode_continue(cont).start)
    assert names(items) == ["e"] and cont == "" and remaining is None


def test_no_limit_or_a_limit_past_the_end_has_no_continue():
    objs = [obj("a"), obj("b")]
    assert paging.page(objs, 0, 3, None) == (objs, "", None)
    assert paging.page(objs, 2, 3, None) == (objs, "", None)


def test_namespaces_order_before_names():
    objs = [obj("a", "zz"), obj("z", "aa")]
    items, _, _ = paging.page(objs, 1, 1, None)
    assert names(items) == ["z"]


@pytest.mark.parametrize("raw,want", [(None, 0), ("", 0), ("0", 0), ("-3", 0), ("500", 500)])
def test_limit_parsing(raw, want):
    assert paging.parse_limit(raw) == want


@pytest.mark.parametrize("bad", ["!!!", "bm90IGpzb24=",  # "not json"
                                 paging.encode_continue(paging.Continue(5, "default/a")).replace("e", "f", 1)[:-4]])
def test_bad_tokens_are_invalid(bad):
    with pytest.raises(paging.InvalidContinue, match="continue key is not valid"):
        paging.decode_continue(bad)


def test_a_bad_limit_is_invalid():
    with pytest.raises(paging.InvalidContinue, match='limit: Invalid value: "x"'):
        paging.parse_limit("x")


def test_rewind_undoes_adds_modifications_and_deletes_after_the_revision():
    # At revision 10: a (v1), b (v1), c. Then: 11 modifies a, 12 deletes b, 13 adds d, 14 modifies a again.
    now = [obj("a", rv=14, v=3), obj("c", rv=5), obj("d", rv=13)]
    events = [
        Event(11, "MODIFIED", "pods", "default", "a", obj("a", rv=11, v=2), obj("a", rv=3, v=1)),
        Event(12, "DELETED", "pods", "default", "b", obj("b", rv=12), obj("b", rv=4)),
        Event(13, "ADDED", "pods", "default", "d", obj("d", rv=13), None),
        Event(14, "MODIFIED", "pods", "default", "a", obj("a", rv=14, v=3), obj("a", rv=11, v=2)),
        Event(9, "ADDED", "pods", "default", "c", obj("c", rv=5), None),   # before: ignored
    ]
    then = paging.rewind(now, events, 10)
    assert names(then) == ["a", "b", "c"]
    assert then[0]["v"] == 1 and then[1]["metadata"]["resourceVersion"] == "4"
