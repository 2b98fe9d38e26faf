"""The garbage collector: dependents follow their owners (Kubernetes `pkg/controller/garbagecollector`,
kept to the kinds we own: Deployments, ReplicaSets and Services as owners; ReplicaSets, Pods and
EndpointSlices as dependents).

Three deletion modes, chosen by the DELETE's `propagationPolicy` (the API server turns it into finalizers):
- Background (default, `kubectl delete deploy x`): the owner is deleted at once; its dependents now point
  at an owner that is gone ("dangling"), and we delete them — a ReplicaSet's own pods then dangle in turn.
- Foreground: the owner stays, with `deletionTimestamp` and the `foregroundDeletion` finalizer, while we
  delete its dependents (ReplicaSets with pods themselves in Foreground, so the chain unwinds bottom-up);
  when no dependent with `blockOwnerDeletion` is left, we remove the finalizer and the API deletes it.
- Orphan: finalizer `orphan`: we remove the owner's ownerReferences from its dependents (they live on
  unowned), then the finalizer.

Keys are `<plural>|<namespace>/<name>`; one sync looks at an object both as a dependent (are my owners
alive?) and, if it is an owner being deleted with one of our finalizers, as an owner.

Why a live GET before calling an owner gone: the informers of different resources are separate watches;
a ReplicaSet can reach our cache a moment before its brand-new Deployment does. Deleting it on the cache's
word would be deleting live objects. Kubernetes makes the same check (`isDangling` reads the API).
"""
from __future__ import annotations

import copy
import logging

from minikube_py.client import ApiClient, Conflict, Controller, NotFound
from minikube_py.client.informer import object_key

log = logging.getLogger(__name__)

OWNER_PLURALS = {("apps/v1", "Deployment"): "deployments", ("apps/v1", "ReplicaSet"): "replicasets",
                 ("v1", "Service"): "services"}
DEPENDENT_PLURALS = ("replicasets", "pods", "endpointslices")
FOREGROUND, ORPHAN = "foregroundDeletion", "orphan"


def gc_key(plural: str, obj: dict) -> str:
    return f"{plural}|{object_key(obj)}"


def classify_owners(refs: list[dict], lookup) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Split ownerReferences into (solid, dangling, waiting, unknown) with `lookup(ref) -> owner|None`.

    solid: the owner exists and is not in foreground deletion; dangling: gone (or replaced: uid differs);
    waiting: the owner is being deleted in the foreground, waiting for us; unknown: kinds we don't track
    (treated as solid: never delete on their account).
    """
    solid, dangling, waiting, unknown = [], [], [], []
    for ref in refs:
        if (ref.get("apiVersion"), ref.get("kind")) not in OWNER_PLURALS:
            unknown.append(ref)
            continue
        owner = lookup(ref)
        if owner is None:
            dangling.append(ref)
        elif owner["metadata"].get("deletionTimestamp") and FOREGROUND in (owner["metadata"].get("finalizers") or []):
            waiting.append(ref)
        else:
            solid.append(ref)
    return solid, dangling, waiting, unknown


class GarbageCollector(Controller):
    name = "garbage-collector"
    workers = 2

    def __init__(self, client: ApiClient, factory) -> None:
        super().__init__()
        self.client = client
        self.inf = {p: factory.informer(p) for p in ("deployments", "replicasets", "pods", "services",
                                                     "endpointslices")}
        self.informers = list(self.inf.values())
        for plural, inf in self.inf.items():
            inf.add_handlers(on_add=lambda o, p=plural: self._on_change(p, o),
                             on_update=lambda old, new, p=plural: self._on_change(p, new),
                             on_delete=lambda o, p=plural: self._on_delete(p, o))

    # --- handlers ----------------------------------------------------------------------------------
    def _on_change(self, plural: str, obj: dict) -> None:
        meta = obj.get("metadata", {})
        if meta.get("ownerReferences") or (meta.get("deletionTimestamp") and meta.get("finalizers")):
            self.queue.add(gc_key(plural, obj))

    def _on_delete(self, plural: str, obj: dict) -> None:
        meta = obj.get("metadata", {})
        ns = meta.get("namespace") or "default"
        # An owner went: its dependents may now dangle.
        if plural in OWNER_PLURALS.values():
            uid = meta.get("uid")
            for dep_plural in DEPENDENT_PLURALS:
                for dep in self.inf[dep_plural].list(ns):
                    if any(r.get("uid") == uid for r in dep["metadata"].get("ownerReferences") or []):
                        self.queue.add(gc_key(dep_plural, dep))
        # A dependent went: an owner in foreground deletion may be done waiting.
        for ref in meta.get("ownerReferences") or []:
            owner_plural = OWNER_PLURALS.get((ref.get("apiVersion"), ref.get("kind")))
            if owner_plural:
                self.queue.add(f"{owner_plural}|{ns}/{ref.get('name')}")

    # --- sync --------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        plural, _, obj_key = key.partition("|")
        obj = self.inf[plural].get(obj_key)
        if obj is None:
            return
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if plural in OWNER_PLURALS.values() and meta.get("deletionTimestamp"):
            if ORPHAN in finalizers:
                await self.orphan_dependents(plural, obj)
            elif FOREGROUND in finalizers:
                await self.delete_dependents_foreground(plural, obj)
        if meta.get("ownerReferences"):
            await self.attempt_to_delete(plural, obj)

    async def _lookup_owner(self, ns: str, ref: dict) -> dict | None:
        owner_plural = OWNER_PLURALS[(ref.get("apiVersion"), ref.get("kind"))]
        cached = self.inf[owner_plural].get(f"{ns}/{ref.get('name')}")
        if cached is not None and cached["metadata"].get("uid") == ref.get("uid"):
            return cached
        try:
            live = await self.client.get(owner_plural, ref["name"], ns)
        except NotFound:
            return None
        return live if live["metadata"].get("uid") == ref.get("uid") else None

    def dependents_of(self, owner: dict) -> list[tuple[str, dict]]:
        uid, ns = owner["metadata"]["uid"], owner["metadata"].get("namespace") or "default"
        out = []
        for dep_plural in DEPENDENT_PLURALS:
            for dep in self.inf[dep_plural].list(ns):
                if any(r.get("uid") == uid for r in dep["metadata"].get("ownerReferences") or []):
                    out.append((dep_plural, dep))
        return out

    async def attempt_to_delete(self, plural: str, obj: dict) -> None:
        """Dependent side (k8s `attemptToDeleteItem`)."""
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        refs = meta.get("ownerReferences") or []
        owners = {}
        for ref in refs:
            if (ref.get("apiVersion"), ref.get("kind")) in OWNER_PLURALS:
                owners[ref.get("uid")] = await self._lookup_owner(ns, ref)
        solid, dangling, waiting, unknown = classify_owners(refs, lambda r: owners.get(r.get("uid")))
        if not dangling and not waiting:
            return
        if solid or unknown:
            # Still owned by someone alive: just forget the owners that are gone or going.
            drop = {r.get("uid") for r in dangling + waiting}
            await self._set_owner_refs(plural, obj, [r for r in refs if r.get("uid") not in drop])
            return
        if meta.get("deletionTimestamp"):
            return  # already on its way out
        has_dependents = bool(self.dependents_of(obj)) if plural in OWNER_PLURALS.values() else False
        if waiting and has_dependents:
            policy = "Foreground"
        elif ORPHAN in (meta.get("finalizers") or []):
            policy = "Orphan"
        elif FOREGROUND in (meta.get("finalizers") or []):
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("gc: deleting %s %s (owner %s, %s)", plural, object_key(obj),
                 "gone" if dangling else "in foreground deletion", policy)
        try:
            await self.client.delete(plural, meta["name"], namespace=ns, propagation_policy=policy,
                                     preconditions={"uid": meta["uid"]})
        except NotFound:
            pass
        except Conflict:
            pass  # replaced by a new object of the same name: not ours to judge

    async def delete_dependents_foreground(self, plural: str, owner: dict) -> None:
        """Owner side of Foreground: delete the dependents; when none blocks any more, drop the finalizer."""
        uid = owner["metadata"]["uid"]
        blocking = 0
        for dep_plural, dep in self.dependents_of(owner):
            ref = next(r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") == uid)
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if not dep["metadata"].get("deletionTimestamp"):
                await self.attempt_to_delete(dep_plural, dep)
        if blocking == 0:
            await self._remove_finalizer(plural, owner, FOREGROUND)

    async def orphan_dependents(self, plural: str, owner: dict) -> None:
        """Owner side of Orphan: strip our ownerReference from every dependent, then the finalizer."""
        uid = owner["metadata"]["uid"]
        for dep_plural, dep in self.dependents_of(owner):
            refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            await self._set_owner_refs(dep_plural, dep, refs)
        await self._remove_finalizer(plural, owner, ORPHAN)

    async def _set_owner_refs(self, plural: str, obj: dict, refs: list[dict]) -> None:
        """Replace ownerReferences with a resourceVersion-guarded PUT; a conflict requeues."""
        fresh = copy.deepcopy(obj)
        if refs:
            fresh["metadata"]["ownerReferences"] = refs
        else:
            fresh["metadata"].pop("ownerReferences", None)
            fresh["metadata"]["ownerReferences"] = []
        try:
            await self.client.update(plural, fresh)
        except NotFound:
            pass

    async def _remove_finalizer(self, plural: str, owner: dict, finalizer: str) -> None:
        fresh = copy.deepcopy(owner)
        fresh["metadata"]["finalizers"] = [f for f in fresh["metadata"].get("finalizers") or [] if f != finalizer]
        try:
            await self.client.update(plural, fresh)
        except NotFound:
            pass
