"""The API server: Kubernetes REST over aiohttp, backed by a `Store`.

Shape of a request: two middlewares (errors → `Status` bodies; bearer-token auth), then one dispatcher that
parses `/api/v1/...` and `/apis/<g>/<v>/...` into (resource, namespace, name, subresource) and calls a
verb handler. Handlers follow the real apiserver's generic registry:

- create: decode → defaults → validate → server-owned metadata → (Service: allocate IPs/ports) → store.
- update and patch are one *guaranteed update* loop: read the current object, compute the new one from
  it (the PUT body, or the patch applied to it), apply the update rules (status only through `status`,
  generation bumped on spec change, finalizers), compare-and-swap into the store; a CAS failure retries
  unless the client itself named a resourceVersion, in which case it is the client's 409.
- delete: pods bound to a node and objects with finalizers are only *marked* (deletionTimestamp); the
  node agent (DELETE with gracePeriodSeconds=0) and the garbage collector (emptying finalizers) finish.
- watch: `watch.watch_events` over the store's commit stream.

`make_app(store, tokens, config)` builds the application; `serve(app, hosts, port, ssl)` runs it.
"""
from __future__ import annotations

import asyncio
import contextvars
import copy
import json
import logging
import random
import ssl
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

import aiohttp
import yaml
from aiohttp import web

from minikube_py.config import AGENT_PORT, ClusterConfig
from minikube_py.store import AlreadyExists, Compacted, Conflict, NotFound, Store

from . import discovery, errors, openapi
from .jsonerrors import go_message as go_json_message
from .allocators import AllocationError, ServiceAllocator
from . import nodeipam, paging
from .auth import TokenAuthenticator, anonymous_allowed
from .errors import ApiError
from .resources import RESOURCES, Resource
from .selectors import label_selector_from_spec, parse_field_selector, parse_label_selector
from .watch import WatchFilter, WatchHub, watch_events

from . import defaults as _defaults

from . import typecheck as _typecheck
from . import validation as _validation

from . import patch as _patch
from . import fieldmanager as _fieldmanager

from . import protobuf as _protobuf

from . import tables as _tables

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
UNDELETABLE_NAMESPACES = ("default", "kube-system", "kube-public")
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
CREATE_ON_UPDATE = {"endpoints", "events"}
# Kinds whose DELETE answers with the deleted object (like the real registries); others get a Status.
RETURN_DELETED_OBJECT = {"pods", "services", "namespaces", "nodes"}
STATUS_CODES_TO_RETRY = 20  # guaranteed-update retries on CAS races before giving up with 409

K_STATE = web.AppKey("apiserver", object)


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(obj: Any, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=json.dumps(obj, separators=(",", ":")).encode(), status=status,
                        headers={"Content-Type": content_type})


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _meta(obj: dict) -> dict:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = obj["metadata"] = {}
    return m


def _rv(obj: dict) -> int:
    try:
        return int(_meta(obj).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _without(obj: dict, *keys: str) -> dict:
    return {k: v for k, v in obj.items() if k not in keys}


def _bool_param(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


# --- body decoding -------------------------------------------------------------------------------

async def read_body(request: web.Request) -> bytes:
    """The request body, refusing more than 3 MiB (413) before reading it all when the length is known."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise errors.too_large()
    chunks, size = [], 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY:
            raise errors.too_large()
        chunks.append(chunk)
    return b"".join(chunks)


# What the apiserver's decoder reads for a whole object (no Content-Type means JSON); anything else is 415.
BODY_TYPES = ("", "application/json", "application/yaml", _protobuf.CONTENT_TYPE)


def decode_object(body: bytes, content_type: str) -> dict:
    """JSON, YAML or Kubernetes protobuf (kubectl's typed `create`/`run`/`expose`) into a dict; 400 like
    the apiserver's decoder for malformed JSON/YAML, 415 for protobuf we can't read."""
    ct = content_type.split(";")[0].strip().lower()
    if ct == _protobuf.CONTENT_TYPE:
        try:
            return _protobuf.decode_object(body)
        except _protobuf.UnknownKind as e:
            raise ApiError(415, "UnsupportedMediaType", f"{e.kind} ({e.api_version}) can't be decoded from "
                           f"{ct}: this server has no protobuf schema for it; send it as application/json")
        except _protobuf.ProtobufError as e:
            kind = ""
            try:
                kind = " " + _protobuf.decode_envelope(body)[1]
            except _protobuf.ProtobufError:
                pass
            raise ApiError(415, "UnsupportedMediaType", f"the{kind} body in {ct} could not be decoded ({e}); "
                           f"send it as application/json")
    if ct not in BODY_TYPES:
        raise errors.unsupported_body(ct)
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    try:
        if ct == "application/yaml":
            obj = yaml.safe_load(body)
        else:
            text = body.decode("utf-8", "replace")
            obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {go_json_message(text, e)}")
    except (ValueError, yaml.YAMLError) as e:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {str(e).splitlines()[0]}")
    if not isinstance(obj, dict):
        raise errors.bad_request("couldn't get version/kind; json parse error: "
                                 "json: cannot unmarshal into Go value of type struct")
    return obj


def _check_kind(res: Resource, obj: dict, *, kind: str | None = None, api_version: str | None = None) -> None:
    """Fill a missing kind/apiVersion; refuse one that names another type (400, as the decoder does)."""
    want_kind, want_av = kind or res.kind, api_version or res.api_version
    have_kind, have_av = obj.get("kind"), obj.get("apiVersion")
    if have_av and have_av != want_av:
        raise errors.bad_request(f"the API version in the data ({have_av}) does not match the expected API "
                                 f"version ({want_av})")
    if have_kind and have_kind != want_kind:
        raise errors.bad_request(f'{have_kind} in version "{res.version}" cannot be handled as a {want_kind}: '
                                 f"the kind in the data ({have_kind}) does not match the expected kind ({want_kind})")
    obj["kind"], obj["apiVersion"] = want_kind, want_av


# --- strict field validation ---------------------------------------------------------------------

_TOP_LEVEL = {"apiVersion", "kind", "metadata", "spec", "status"}
_TOP_LEVEL_EXTRA = {
    "configmaps": {"data", "binaryData", "immutable"},
    "secrets": {"data", "stringData", "type", "immutable"},
    "endpoints": {"subsets"},
    "events": {"involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
               "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"},
}
_METADATA_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                    "annotations", "ownerReferences", "finalizers", "managedFields"}


def unknown_fields(res: Resource, obj: dict) -> list[str]:
    """Fields a strict decoder would reject. Uses validation's own knowledge when it offers it."""
    helper = getattr(_validation, "unknown_fields", None)
    if helper is not None:
        return list(helper(res, obj))
    out = [k for k in obj if k not in _TOP_LEVEL | _TOP_LEVEL_EXTRA.get(res.plural, set())]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        out += [f"metadata.{k}" for k in meta if k not in _METADATA_FIELDS]
    return out


def _check_apply_schema(res: Resource, applied: dict) -> None:
    """Server-side apply converts the applied configuration to its typed schema before anything else, so a
    field the kind doesn't declare fails whatever `fieldValidation` says (`--validate=false` too), and
    with structured-merge-diff's words: a plain error (HTTP 500, no reason; kubectl prints
    `Error from server: failed to create typed patch object (default/x; /v1, Kind=Pod): .spec.foo: field
    not declared in schema`)."""
    bad = unknown_fields(res, applied)
    if not bad:
        return
    lines = [f"{_fieldmanager.schema_path(applied, res.kind, f)}: field not declared in schema" for f in bad]
    detail = lines[0] if len(lines) == 1 else "\n".join(["errors:"] + [f"  {line}" for line in lines])
    meta = _meta(applied)
    gv = f"{res.group}/{res.version}"
    raise ApiError(500, "", f"failed to create typed patch object ({meta.get('namespace') or ''}/"
                            f"{meta.get('name') or ''}; {gv}, Kind={res.kind}): {detail}")


# Kinds whose every request carries an endpoint-level deprecation warning (apiserver installer.go: the
# type's APILifecycleDeprecated/Replacement → deprecation.WarningMessage, on every verb, errors included).
DEPRECATION_WARNINGS = {
    "endpoints": "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
}
K_WARNINGS = web.RequestKey("endpoint_warnings", list)  # the deprecation warnings of the resource being served

# The unknown-field warnings of the request being handled: a list under `fieldValidation=Warn` (the default),
# None under `Ignore` or outside a request. `_warning_middleware` turns them into `Warning` headers.
_FIELD_WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("field_warnings", default=None)


def drop_unknown_fields(res: Resource, obj: dict) -> None:
    """Without `Strict`, unknown fields are dropped as the typed decoder drops them, never stored; under
    `Warn` each one becomes `Warning: unknown field "spec.foo"` (kubectl prints it)."""
    dropped = _validation.prune_unknown_fields(res, obj)
    warnings = _FIELD_WARNINGS.get()
    if warnings is not None:
        warnings[:] = [f'unknown field "{f}"' for f in dropped]  # a retried update replaces, not adds


# --- server state ----------------------------------------------------------------------------------

class ApiServer:
    """Everything a request needs; one per application."""

    def __init__(self, store: Store, tokens: dict[str, str], config: ClusterConfig | None,
                 bookmark_seconds: float) -> None:
        self.store = store
        self.hub = WatchHub(store)
        self.config = config
        self.allocator = ServiceAllocator(config or ClusterConfig())
        self.node_ipam_lock = asyncio.Lock()  # Node creates: list the taken pod CIDRs + store, one at a time
        self.auth = TokenAuthenticator(tokens)
        self.node_token = tokens.get("node") or tokens.get("admin")
        self.bookmark_seconds = bookmark_seconds
        self.http: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task] = set()
        self.closing = False

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- startup -----------------------------------------------------------------------------------
    async def bootstrap(self) -> None:
        """Seed what exists from the start, rebuild allocator state, resume namespace deletions."""
        services, _ = await self.store.list("services")
        self.allocator.rebuild(services)
        for ns in SYSTEM_NAMESPACES:
            if await self.store.get("namespaces", "", ns) is None:
                await self.create_object(RESOURCES["namespaces"], "", {"metadata": {"name": ns}})
        if self.config is not None:
            await self._ensure_kubernetes_service()
        namespaces, _ = await self.store.list("namespaces")
        for ns in namespaces:
            if ns["metadata"].get("deletionTimestamp"):
                self.spawn(self._finalize_namespace(ns["metadata"]["name"]))

    async def _ensure_kubernetes_service(self) -> None:
        cfg = self.config
        assert cfg is not None
        if await self.store.get("services", "default", "kubernetes") is None:
            svc = {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "kubernetes", "namespace": "default",
                                "labels": {"component": "apiserver", "provider": "kubernetes"}},
                   "spec": {"type": "ClusterIP", "clusterIP": cfg.kubernetes_service_ip,
                            "clusterIPs": [cfg.kubernetes_service_ip], "sessionAffinity": "None",
                            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]}}
            await self.create_object(RESOURCES["services"], "default", svc)
        ep = {"apiVersion": "v1", "kind": "Endpoints",
              "metadata": {"name": "kubernetes", "namespace": "default",
                           "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
              "subsets": [{"addresses": [{"ip": cfg.gateway_ip}],
                           "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}]}
        current = await self.store.get("endpoints", "default", "kubernetes")
        if current is None:
            await self.create_object(RESOURCES["endpoints"], "default", ep)
        elif current.get("subsets") != ep["subsets"]:
            await self.guaranteed_update(RESOURCES["endpoints"], "default", "kubernetes",
                                         lambda cur: {**cur, "subsets": ep["subsets"]})
        # ...and its EndpointSlice, which the apiserver's endpoint reconciler also writes (kubectl 1.33's
        # `describe svc kubernetes` reads the slice): same name, IPv4, the address Ready.
        content = {"addressType": "IPv4",
                   "endpoints": [{"addresses": [cfg.gateway_ip], "conditions": {"ready": True}}],
                   "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}
        es = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "kubernetes", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "kubernetes"}}, **content}
        current_es = await self.store.get("endpointslices", "default", "kubernetes")
        if current_es is None:
            await self.create_object(RESOURCES["endpointslices"], "default", es)
        elif any(current_es.get(k) != v for k, v in content.items()):
            await self.guaranteed_update(RESOURCES["endpointslices"], "default", "kubernetes",
                                         lambda cur: {**cur, **content})

    # --- helpers -----------------------------------------------------------------------------------
    async def _get(self, res: Resource, ns: str, name: str) -> dict:
        obj = await self.store.get(res.plural, ns if res.namespaced else "", name)
        if obj is None:
            raise errors.not_found(res, name)
        return obj

    async def _require_namespace(self, res: Resource, ns: str, name: str, creating: bool) -> None:
        if not res.namespaced:
            return
        nsobj = await self.store.get("namespaces", "", ns)
        if nsobj is None:
            raise errors.namespace_not_found(ns)
        if creating and nsobj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(f'{res.plural} "{name}" is forbidden: unable to create new content in '
                                   f"namespace {ns} because it is being terminated", res, name)

    def _validate(self, res: Resource, obj: dict, old: dict | None = None) -> None:
        if (bad := _typecheck.decode_error(res, obj)) is not None:
            raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {bad}')
        causes = _validation.validate(res, obj, old)
        if causes:
            name = _meta(obj).get("name") or _meta(obj).get("generateName") or ""
            err = errors.invalid(res, name, causes)
            err.message = _validation.format_invalid_message(res.kind, name, causes, res.group)
            raise err

    def _allocate(self, res: Resource, obj: dict, old: dict | None) -> dict:
        if res.plural != "services":
            return obj
        try:
            return self.allocator.allocate(obj, old)
        except AllocationError as e:
            raise errors.invalid(res, _meta(obj).get("name", ""), [e.cause()])

    async def _default_ingress_class(self, obj: dict) -> None:
        """The DefaultIngressClass admission plugin: an Ingress created without a class gets the one
        IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"` (none or several: none).
        """
        spec = obj.setdefault("spec", {})
        if spec.get("ingressClassName") or (_meta(obj).get("annotations") or {}).get("kubernetes.io/ingress.class"):
            return
        classes, _ = await self.store.list("ingressclasses")
        defaults = [c for c in classes if (_meta(c).get("annotations") or {})
                    .get("ingressclass.kubernetes.io/is-default-class") == "true"]
        if len(defaults) == 1:
            spec["ingressClassName"] = _meta(defaults[0])["name"]

    # --- create ------------------------------------------------------------------------------------
    async def create_object(self, res: Resource, ns: str, obj: dict, *, dry_run: bool = False,
                            strict: bool = False, manager: str | None = None) -> dict:
        _check_kind(res, obj)
        meta = _meta(obj)
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if strict and (bad := unknown_fields(res, obj)):
            raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                                     "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in bad))
        drop_unknown_fields(res, obj)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice(GENERATE_ALPHABET) for _ in range(5))
        name = meta.get("name") or ""
        if not name:
            raise errors.invalid(res, "", [{"reason": "FieldValueRequired", "field": "metadata.name",
                                            "message": "Required value: name or generateName is required"}])
        await self._require_namespace(res, ns, name, creating=True)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        if res.plural == "namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        _defaults.apply_defaults(res, obj)
        if res.plural == "ingresses":
            await self._default_ingress_class(obj)
        self._validate(res, obj)
        obj = self._allocate(res, obj, None)
        if manager:
            _fieldmanager.record_update(None, obj, res.kind, manager, res.api_version, now_rfc3339())
        if res.plural == "nodes":
            return await self._create_node(res, name, obj, dry_run)
        if dry_run:
            if res.plural == "services":
                self.allocator.release(obj)
            return obj
        try:
            return await self.store.create(res.plural, ns if res.namespaced else "", name, obj)
        except AlreadyExists:
            if res.plural == "services":
                self.allocator.release(obj)
            raise errors.already_exists(res, name)
        except BaseException:
            if res.plural == "services":
                self.allocator.release(obj)
            raise

    async def _create_node(self, res: Resource, name: str, obj: dict, dry_run: bool) -> dict:
        """Node IPAM admission (nodeipam.py): the Node is stored with its pod CIDR, chosen while no other
        Node create can interleave."""
        async with self.node_ipam_lock:
            others, _ = await self.store.list("nodes")
            try:
                nodeipam.admit_create(obj, [o for o in others if _meta(o).get("name") != name],
                                      (self.config or ClusterConfig()).pod_cidr)
            except nodeipam.PodCIDRError as e:
                raise errors.invalid(res, name, [e.cause()])
            if dry_run:
                return obj
            try:
                return await self.store.create(res.plural, "", name, obj)
            except AlreadyExists:
                raise errors.already_exists(res, name)

    # --- update ------------------------------------------------------------------------------------
    def _update_rules(self, res: Resource, old: dict, new: dict, subresource: str | None) -> dict:
        """What the registry does between "the client's object" and "what gets stored"."""
        _check_kind(res, new)
        old_meta, meta = _meta(old), _meta(new)
        if subresource == "status":
            # Only status changes; everything else is the stored object's.
            out = copy.deepcopy(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            return out
        if "status" in res.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        meta["name"] = old_meta["name"]
        if res.plural == "nodes":
            try:
                nodeipam.check_update(old, new)
            except nodeipam.PodCIDRError as e:
                raise errors.invalid(res, old_meta["name"], [e.cause()])
        # Finalizers may only be removed, not added, once deletion started (Kubernetes forbids adding).
        spec_changed = _without(new, "metadata", "status", "kind", "apiVersion") != \
            _without(old, "metadata", "status", "kind", "apiVersion")
        gen = int(old_meta.get("generation") or 1)
        meta["generation"] = gen + 1 if spec_changed else gen
        return new

    async def guaranteed_update(self, res: Resource, ns: str, name: str,
                                compute: Callable[[dict], dict], *, subresource: str | None = None,
                                client_rv: str | None = None, dry_run: bool = False, strict: bool = False,
                                create_if_missing: Callable[[], Awaitable[dict]] | None = None,
                                manager: str | None = None) -> tuple[dict, bool]:
        """Read-compute-CAS until it sticks. Returns (stored object, created?).

        `compute(current_copy) -> new` builds the desired object (a PUT body or a patch result). When the
        client named a resourceVersion (in the URL body's metadata) a mismatch is its 409; our own CAS races
        are retried, as the apiserver's GuaranteedUpdate does. *manager* (a client's write) gets the fields
        the write changed in `managedFields` (fieldmanager.py); an apply's `compute` records its own.
        """
        key_ns = ns if res.namespaced else ""
        for _ in range(STATUS_CODES_TO_RETRY):
            current = await self.store.get(res.plural, key_ns, name)
            if current is None:
                if create_if_missing is not None:
                    return await create_if_missing(), True
                raise errors.not_found(res, name)
            new = compute(copy.deepcopy(current))
            want_rv = client_rv if client_rv is not None else _meta(new).get("resourceVersion")
            if want_rv and str(want_rv) != str(_rv(current)):
                raise errors.conflict(res, name)
            # A uid in the body (a PUT of an object read earlier, the kubelet's status patch) is a
            # precondition: a write meant for a pod that was deleted and created again under the same name
            # must not land on the new one.
            want_uid = _meta(new).get("uid")
            if want_uid and want_uid != _meta(current).get("uid"):
                raise errors.uid_precondition_failed(res, name, want_uid, _meta(current).get("uid"))
            if strict and (bad := unknown_fields(res, new)):
                raise errors.bad_request(
                    f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: strict decoding '
                    "error: " + ", ".join(f'unknown field "{f}"' for f in bad))
            drop_unknown_fields(res, new)
            new = self._update_rules(res, current, new, subresource)
            if subresource != "status":
                if res.plural == "services":
                    _service_update_strategy(new, current)
                _defaults.apply_defaults(res, new)
            else:
                _defaults.drop_zero_status(res, new)
            self._validate(res, new, current)
            if subresource not in (None, "scale"):
                pass  # status writes: untracked, and _update_rules kept the stored managedFields
            elif manager:
                _fieldmanager.record_update(current, new, res.kind, manager, res.api_version, now_rfc3339(),
                                            subresource or "")
            elif "managedFields" not in _meta(new) and "managedFields" in _meta(current):
                _meta(new)["managedFields"] = copy.deepcopy(_meta(current)["managedFields"])
            _meta(new)["resourceVersion"] = _meta(current).get("resourceVersion")
            if new == current:
                return current, False  # no-op updates are not written (resourceVersion stays)
            allocated = self._allocate(res, new, current) if subresource != "status" else new
            if dry_run:
                if allocated is not new:
                    self.allocator.undo(allocated, current)
                return allocated, False
            try:
                if self._should_delete_during_update(current, allocated):
                    gone = await self.store.delete(res.plural, key_ns, name, _rv(current))
                    await self._after_delete(res, gone)
                    return allocated, False
                stored = await self.store.update(res.plural, key_ns, name, allocated, _rv(current))
                return stored, False
            except (Conflict, NotFound):
                if res.plural == "services" and allocated is not new:
                    self.allocator.undo(allocated, current)
                if want_rv:
                    raise errors.conflict(res, name)
                continue
        raise errors.conflict(res, name)

    @staticmethod
    def _should_delete_during_update(old: dict, new: dict) -> bool:
        """Kubernetes' rule: the update that removes the last finalizer of an object being deleted (and not
        waiting for a graceful pod termination) deletes it."""
        om, nm = _meta(old), _meta(new)
        return (bool(om.get("finalizers")) and not nm.get("finalizers") and bool(nm.get("deletionTimestamp"))
                and not (om.get("deletionGracePeriodSeconds") or 0))

    # --- delete ------------------------------------------------------------------------------------
    async def delete_object(self, res: Resource, ns: str, name: str, options: dict,
                            dry_run: bool = False) -> tuple[dict, bool]:
        """Returns (object, deleted-now?). *dry_run* (`?dryRun=All`, or the options' `dryRun`): every check
        and the answer as for a real delete, nothing written (`kubectl delete|drain --dry-run=server`)."""
        key_ns = ns if res.namespaced else ""
        dry_run = dry_run or bool(options.get("dryRun"))

        async def write(new: dict, cur: dict) -> dict:
            return new if dry_run else await self.store.update(res.plural, key_ns, name, new, _rv(cur))

        async def remove(cur: dict) -> dict:
            if dry_run:
                return cur
            gone = await self.store.delete(res.plural, key_ns, name, _rv(cur))
            await self._after_delete(res, gone)
            return gone

        grace = options.get("gracePeriodSeconds")
        grace = int(grace) if grace is not None else None
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise errors.invalid(res, name, [{"reason": "FieldValueNotSupported", "field": "propagationPolicy",
                                              "message": f'Unsupported value: "{policy}": supported values: '
                                                         '"Foreground", "Background", "Orphan", "nil"'}])
        pre = options.get("preconditions") or {}
        if res.plural == "namespaces":
            return await self._delete_namespace(name, options, dry_run), False
        for _ in range(STATUS_CODES_TO_RETRY):
            cur = await self._get(res, ns, name)
            meta = _meta(cur)
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.uid_precondition_failed(res, name, pre["uid"], meta.get("uid"))
            if pre.get("resourceVersion") and str(pre["resourceVersion"]) != meta.get("resourceVersion"):
                raise errors.conflict_message(res, name, "Precondition failed: ResourceVersion in precondition: "
                                                         f"{pre['resourceVersion']}, ResourceVersion in object "
                                                         f"meta: {meta.get('resourceVersion')}")
            # How long the object may take to go away.
            graceful = 0
            if res.plural == "pods" and (cur.get("spec") or {}).get("nodeName"):
                if grace is None:
                    grace_default = (cur.get("spec") or {}).get("terminationGracePeriodSeconds")
                    graceful = 30 if grace_default is None else int(grace_default)
                else:
                    graceful = max(grace, 0)
                # A pod that never started (or has finished) needs nobody to stop it.
                phase = (cur.get("status") or {}).get("phase")
                if phase in ("Succeeded", "Failed"):
                    graceful = 0
            new = copy.deepcopy(cur)
            nmeta = _meta(new)
            finalizers = list(nmeta.get("finalizers") or [])
            if not meta.get("deletionTimestamp"):
                if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                    finalizers.append("foregroundDeletion")
                if policy == "Orphan" and "orphan" not in finalizers:
                    finalizers.append("orphan")
            if meta.get("deletionTimestamp"):
                # Already being deleted: only a shorter grace period changes anything.
                current_grace = int(meta.get("deletionGracePeriodSeconds") or 0)
                if graceful >= current_grace and not (grace == 0 and current_grace > 0):
                    if graceful == 0 and current_grace == 0 and not finalizers:
                        pass  # fall through to delete now
                    else:
                        return cur, False
                if graceful < current_grace or (grace == 0):
                    if not finalizers:
                        try:
                            return await remove(cur), True
                        except (Conflict, NotFound):
                            continue
                    nmeta["deletionGracePeriodSeconds"] = graceful
                    nmeta["deletionTimestamp"] = _in_seconds(graceful)
                    try:
                        return await write(new, cur), False
                    except (Conflict, NotFound):
                        continue
            if graceful > 0 or finalizers:
                nmeta["finalizers"] = finalizers
                if not finalizers:
                    nmeta.pop("finalizers")
                nmeta["deletionTimestamp"] = _in_seconds(graceful)
                nmeta["deletionGracePeriodSeconds"] = graceful
                nmeta["generation"] = int(nmeta.get("generation") or 1) + 1
                try:
                    return await write(new, cur), False
                except (Conflict, NotFound):
                    continue
            try:
                return await remove(cur), True
            except (Conflict, NotFound):
                continue
        raise errors.conflict(res, name)

    async def _after_delete(self, res: Resource, gone: dict) -> None:
        if res.plural == "services":
            self.allocator.release(gone)

    async def _delete_namespace(self, name: str, options: dict, dry_run: bool = False) -> dict:
        res = RESOURCES["namespaces"]
        if name in UNDELETABLE_NAMESPACES:
            raise errors.forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted', res, name)

        def mark(cur: dict) -> dict:
            meta = _meta(cur)
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
            cur.setdefault("status", {})["phase"] = "Terminating"
            return cur

        # The namespace's own finalizer (`spec.finalizers: [kubernetes]`) is ours: we run it below.
        current = await self._get(res, "", name)
        if current["metadata"].get("deletionTimestamp"):
            return current
        if dry_run:
            return mark(copy.deepcopy(current))
        obj, _ = await self._status_and_meta_write(res, name, mark)
        self.spawn(self._finalize_namespace(name))
        return obj

    async def _status_and_meta_write(self, res: Resource, name: str, fn: Callable[[dict], dict]) -> tuple[dict, bool]:
        for _ in range(STATUS_CODES_TO_RETRY):
            cur = await self._get(res, "", name)
            new = fn(copy.deepcopy(cur))
            try:
                return await self.store.update(res.plural, "", name, new, _rv(cur)), False
            except (Conflict, NotFound):
                continue
        raise errors.conflict(res, name)

    async def _finalize_namespace(self, name: str) -> None:
        """Delete everything in a terminating namespace, wait until it is gone, then the namespace.
        Waiting is event-driven: re-check only when something in that namespace changes."""
        sub = self.hub.subscribe()
        try:
            for res in RESOURCES.values():
                if not res.namespaced:
                    continue
                items, _ = await self.store.list(res.plural, name)
                for obj in items:
                    try:
                        await self.delete_object(res, name, obj["metadata"]["name"],
                                                 {"propagationPolicy": "Background"})
                    except ApiError:
                        pass
            while True:
                remaining = 0
                for res in RESOURCES.values():
                    if res.namespaced:
                        remaining += len((await self.store.list(res.plural, name))[0])
                if remaining == 0:
                    break
                while True:
                    event = await sub.queue.get()
                    if event is None:
                        return
                    if event.namespace == name and event.type == "DELETED":
                        break
            try:
                await self.store.delete("namespaces", "", name)
            except NotFound:
                pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("finalizing namespace %s failed", name)
        finally:
            sub.close()


def _service_update_strategy(new: dict, old: dict) -> None:
    """The Service registry's PrepareForUpdate: an omitted clusterIP keeps the allocated one (it is
    immutable), and fields that only belonged to the old type are dropped when the type changes, if the
    client left them as they were (Kubernetes' dropTypeDependentFields)."""
    spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
    new_type, old_type = spec.get("type", "ClusterIP"), old_spec.get("type", "ClusterIP")
    if new_type != "ExternalName" and old_type != "ExternalName" and old_spec.get("clusterIP"):
        old_ips = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        # patchAllocatedValues: what the client left out keeps what was allocated
        if not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs"):
            spec["clusterIPs"] = old_ips
        # normalizeClusterIPs: only the singular changed (an old client), so the plural follows it and
        # validation names the IP the client asked for
        elif spec["clusterIP"] != old_spec["clusterIP"] and spec["clusterIPs"] == old_ips:
            spec["clusterIPs"] = [spec["clusterIP"]]
    if new_type == old_type:
        return
    if new_type == "ExternalName" and spec.get("clusterIP") == old_spec.get("clusterIP"):
        for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
            spec.pop(k, None)
    if new_type in ("ClusterIP", "ExternalName"):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
        for p in spec.get("ports") or []:
            if p.get("nodePort") and old_ports.get((p.get("port"), p.get("protocol", "TCP"))) == p.get("nodePort"):
                p.pop("nodePort")
        if old_type in ("NodePort", "LoadBalancer"):
            spec.pop("externalTrafficPolicy", None)
            if spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
                spec.pop("healthCheckNodePort", None)


def _in_seconds(seconds: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- routing ---------------------------------------------------------------------------------------

class Target:
    """What a REST path names."""

    def __init__(self, res: Resource, namespace: str | None, name: str | None, subresource: str | None,
                 watch: bool) -> None:
        self.res, self.namespace, self.name, self.subresource, self.watch = res, namespace, name, subresource, watch


def parse_path(group_version: str, segments: list[str]) -> Target:
    """`["namespaces","default","pods","x","log"]` under `v1` → Target(pods, default, x, log)."""
    watch = False
    if segments and segments[0] == "watch":
        watch, segments = True, segments[1:]
    by_plural = {r.plural: r for r in RESOURCES.values() if r.api_version == group_version}
    not_found = ApiError(404, "NotFound", "the server could not find the requested resource")
    ns = None
    if len(segments) >= 3 and segments[0] == "namespaces" and segments[2] not in ("status", "finalize"):
        ns, segments = segments[1], segments[2:]
    if not segments or segments[0] not in by_plural:
        raise not_found
    res = by_plural[segments[0]]
    if ns is not None and not res.namespaced:
        raise not_found
    name = segments[1] if len(segments) > 1 else None
    sub = segments[2] if len(segments) > 2 else None
    if len(segments) > 3 or (sub and sub not in res.subresources and not (res.plural == "namespaces" and sub == "finalize")):
        raise not_found
    return Target(res, ns, name, sub, watch)


# --- the application -------------------------------------------------------------------------------

def make_app(store: Store, tokens: dict[str, str], config: ClusterConfig | None = None, *,
             bookmark_seconds: float = 30.0) -> web.Application:
    """The API server application. `tokens` is `{"admin": ..., "node": ...}` (pki.Pki's tokens); `config`
    seeds the `kubernetes` Service and sizes the allocators (defaults when None)."""
    state = ApiServer(store, tokens, config, bookmark_seconds)
    app = web.Application(middlewares=[_error_middleware, _auth_middleware, _warning_middleware],
                          client_max_size=MAX_BODY + 1024 * 1024)
    app[K_STATE] = state
    h = _Handlers(state)
    r = app.router
    for path in ("/healthz", "/readyz", "/livez"):
        r.add_get(path, h.health)
    r.add_get("/version", h.version)
    r.add_get("/api", h.api_root)
    r.add_get("/apis", h.apis_root)
    r.add_get("/openapi/v3", h.openapi_root)
    r.add_get("/openapi/v3/{tail:.*}", h.openapi_doc)
    r.add_get("/openapi/v2", h.openapi_v2)
    r.add_route("*", "/api/{version}", h.api_dispatch)
    r.add_route("*", "/api/{version}/{tail:.*}", h.api_dispatch)
    r.add_get("/apis/{group}", h.api_group)
    r.add_route("*", "/apis/{group}/{version}", h.api_dispatch)
    r.add_route("*", "/apis/{group}/{version}/{tail:.*}", h.api_dispatch)

    async def lifecycle(app: web.Application):
        state.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        await state.bootstrap()
        yield
        state.closing = True
        state.hub.close_all()
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await state.http.close()

    async def end_watches(app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for open handlers: ending the watch streams here lets
        # a SIGTERM'd control plane stop at once instead of after the shutdown timeout.
        state.closing = True
        state.hub.close_all()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(end_watches)
    return app


def app_state(app: web.Application) -> ApiServer:
    return app[K_STATE]  # type: ignore[return-value]


@web.middleware
async def _error_middleware(request: web.Request, handler):
    resp = await _error_response(request, handler)
    if not resp.prepared:  # an error answer still warns, as the apiserver records them before serving
        for text in request.get(K_WARNINGS, ()):
            if _warning_header(text) not in resp.headers.getall("Warning", []):
                resp.headers.add("Warning", _warning_header(text))
    return resp


async def _error_response(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as e:
        return _json(e.status(), e.code)
    except web.HTTPNotFound:
        return _json(errors.status_body(404, "NotFound", "the server could not find the requested resource"), 404)
    except web.HTTPMethodNotAllowed:
        e = errors.method_not_allowed()
        return _json(e.status(), 405)
    except web.HTTPRequestEntityTooLarge:
        e = errors.too_large()
        return _json(e.status(), 413)
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as e:  # a bug: still answer like Kubernetes does
        log.exception("internal error on %s %s", request.method, request.path)
        err = errors.internal(str(e))
        return _json(err.status(), 500)


def _warning_header(text: str) -> str:
    """Go's net.NewWarningHeader: code 299, agent `-`, the text in quotes with `"` and `\\` escaped."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@web.middleware
async def _warning_middleware(request: web.Request, handler):
    token = _FIELD_WARNINGS.set(None if request.query.get("fieldValidation") == "Ignore" else [])
    try:
        resp = await handler(request)
        warnings = list(request.get(K_WARNINGS, ())) + (_FIELD_WARNINGS.get() or [])
        if warnings and not resp.prepared:
            for text in warnings:
                resp.headers.add("Warning", _warning_header(text))
        return resp
    finally:
        _FIELD_WARNINGS.reset(token)


@web.middleware
async def _auth_middleware(request: web.Request, handler):
    state = app_state(request.app)
    if state.auth.user_for(request.headers.get("Authorization")) is None:
        if not anonymous_allowed(request.method, request.path):
            raise errors.unauthorized()
    return await handler(request)


class _Handlers:
    def __init__(self, state: ApiServer) -> None:
        self.s = state

    # --- plain endpoints ---------------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok", content_type="text/plain")

    async def version(self, request: web.Request) -> web.Response:
        return _json(discovery.version_info())

    async def api_root(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return _json(discovery.aggregated_discovery(legacy=True),
                         content_type=discovery.AGGREGATED_CONTENT_TYPE)
        return _json(discovery.api_versions())

    async def apis_root(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return _json(discovery.aggregated_discovery(legacy=False),
                         content_type=discovery.AGGREGATED_CONTENT_TYPE)
        return _json(discovery.api_group_list())

    async def api_group(self, request: web.Request) -> web.Response:
        for g in discovery.api_group_list()["groups"]:
            if g["name"] == request.match_info["group"]:
                return _json({"kind": "APIGroup", "apiVersion": "v1", **g})
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    async def openapi_root(self, request: web.Request) -> web.Response:
        return _json(openapi.root_document())

    async def openapi_doc(self, request: web.Request) -> web.Response:
        doc = openapi.document_for_path(request.match_info["tail"])
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return _json(doc)

    async def openapi_v2(self, request: web.Request) -> web.Response:
        """An empty OpenAPI v2 document (empty protobuf = no paths, no definitions). kubectl falls back to
        v2 when v3 lacks a group-version: with a 404 here a manifest naming a kind the server doesn't serve
        fails with `failed to download openapi` instead of kubectl's `no matches for kind`; with an empty
        document validation and apply's strategic merge use kubectl's built-in types, as before."""
        # kube-openapi's response type (the `@v1.0` spelling kubectl asks for does not parse as a Go mime type)
        return web.Response(body=b"", content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf")

    # --- REST dispatch -----------------------------------------------------------------------------
    async def api_dispatch(self, request: web.Request) -> web.StreamResponse:
        mi = request.match_info
        version = mi["version"]
        gv = f"{mi['group']}/{version}" if "group" in mi else version
        tail = mi.get("tail", "")
        segments = [s for s in tail.split("/") if s]
        if not segments:
            if request.method != "GET":
                raise errors.method_not_allowed()
            doc = discovery.api_resource_list(gv)
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return _json(doc)
        t = parse_path(gv, segments)
        if t.res.plural in DEPRECATION_WARNINGS:
            request[K_WARNINGS] = [DEPRECATION_WARNINGS[t.res.plural]]
        if t.res.namespaced and t.namespace is None and t.name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        m = request.method
        if t.name is None:
            if m == "GET":
                if t.watch or _bool_param(request.query.get("watch")):
                    return await self.watch(request, t)
                return await self.list(request, t)
            if m == "POST":
                if t.namespace is None and t.res.namespaced:
                    raise errors.method_not_allowed()
                return await self.create(request, t)
            if m == "DELETE":
                return await self.delete_collection(request, t)
            raise errors.method_not_allowed()
        if t.subresource is None:
            if m == "GET":
                if t.watch or _bool_param(request.query.get("watch")):
                    return await self.watch(request, t)
                return await self.get(request, t)
            if m == "PUT":
                return await self.update(request, t)
            if m == "PATCH":
                return await self.patch(request, t)
            if m == "DELETE":
                return await self.delete(request, t)
            raise errors.method_not_allowed()
        sub = t.subresource
        if sub in ("status", "finalize"):
            if m == "GET":
                return await self.get(request, t)
            if m == "PUT":
                return await self.update(request, t, subresource="status")
            if m == "PATCH":
                return await self.patch(request, t, subresource="status")
        elif sub == "scale":
            if m == "GET":
                return _json(_to_scale(t.res, await self.s._get(t.res, t.namespace or "", t.name)))
            if m in ("PUT", "PATCH"):
                return await self.scale_write(request, t)
        elif sub == "binding" and m == "POST":
            return await self.binding(request, t)
        elif sub == "eviction" and m == "POST":
            return await self.eviction(request, t)
        elif sub == "log" and m == "GET":
            return await self.pod_log(request, t)
        elif sub in ("exec", "attach") and m in ("GET", "POST"):
            return await self.pod_exec(request, t, sub)
        elif sub == "portforward" and m in ("GET", "POST"):
            return await self.pod_portforward(request, t)
        raise errors.method_not_allowed()

    # --- read --------------------------------------------------------------------------------------
    def _selectors(self, request: web.Request, res: Resource) -> Callable[[dict], bool]:
        try:
            labels = parse_label_selector(request.query.get("labelSelector", ""))
        except ValueError as e:
            raise errors.bad_request(f"unable to parse requirement: {e}" if "unable to parse" not in str(e) else str(e))
        try:
            fields = parse_field_selector(request.query.get("fieldSelector", ""))
        except ValueError as e:
            raise errors.bad_request(str(e))
        bad = fields.unsupported(res.plural)
        if bad:
            raise errors.bad_request(f'field label not supported: {bad[0]}')

        def matches(obj: dict) -> bool:
            return labels.matches((obj.get("metadata") or {}).get("labels") or {}) and fields.matches(obj)
        return matches

    def _table(self, request: web.Request, res: Resource, objs: list[dict]) -> dict:
        include = request.query.get("includeObject") or "Object"
        table = _tables.to_table(res, objs, include)
        table.setdefault("kind", "Table")
        table.setdefault("apiVersion", "meta.k8s.io/v1")
        return table

    async def get(self, request: web.Request, t: Target) -> web.Response:
        obj = await self.s._get(t.res, t.namespace or "", t.name or "")
        if _wants_table(request):
            table = self._table(request, t.res, [obj])
            table.setdefault("metadata", {})["resourceVersion"] = obj["metadata"].get("resourceVersion", "")
            return _json(table)
        return _json(obj)

    async def list(self, request: web.Request, t: Target) -> web.Response:
        matches = self._selectors(request, t.res)
        try:
            limit = paging.parse_limit(request.query.get("limit"))
            token = paging.decode_continue(request.query["continue"]) if request.query.get("continue") else None
        except paging.InvalidContinue as e:
            raise errors.bad_request(str(e))
        if token and request.query.get("resourceVersion"):
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        namespace = t.namespace if t.res.namespaced else None
        items, rev = await self.s.store.list(t.res.plural, namespace)
        if token:
            items = await self._rewound(t.res.plural, namespace, items, rev, token.revision)
            rev = token.revision
        items = [o for o in items if matches(o)]
        items, cont, remaining = paging.page(items, limit, rev, token.start if token else None)
        meta: dict[str, Any] = {"resourceVersion": str(rev)}
        if cont:
            meta["continue"] = cont
            if remaining is not None and not (request.query.get("labelSelector") or request.query.get("fieldSelector")):
                meta["remainingItemCount"] = remaining
        if _wants_table(request):
            table = self._table(request, t.res, items)
            table.setdefault("metadata", {}).update(meta)
            return _json(table)
        return _json({"kind": t.res.list_kind, "apiVersion": t.res.api_version, "metadata": meta, "items": items})

    async def _rewound(self, plural: str, namespace: str | None, items: list[dict], rev: int, to: int) -> list[dict]:
        """The collection as it was at revision *to* (a later page of a chunked list; see api/paging.py)."""
        if to >= rev:
            return items
        try:
            events = await self.s.store.events_since(to)
        except Compacted:
            raise errors.gone("The provided continue parameter is too old to display a consistent list result. "
                              "You can start a new list without the continue parameter.")
        mine = [e for e in events if e.resource == plural and e.revision <= rev
                and (namespace is None or e.namespace == namespace)]
        return paging.rewind(items, mine, to)

    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        matches = self._selectors(request, t.res)
        if t.name is not None:  # /watch/namespaces/ns/pods/name (old style): a name filter
            name, base = t.name, matches
            matches = lambda o: o.get("metadata", {}).get("name") == name and base(o)  # noqa: E731
        rv_param = request.query.get("resourceVersion", "")
        try:
            rv = int(rv_param) if rv_param else 0
        except ValueError:
            raise errors.bad_request(f'resourceVersion: Invalid value: "{rv_param}": must be a non-negative integer')
        compacted = getattr(self.s.store, "compacted_revision", 0)
        if rv and rv < compacted:
            raise errors.gone(f"too old resource version: {rv} ({compacted})")
        timeout_s = request.query.get("timeoutSeconds")
        timeout = float(timeout_s) if timeout_s else 1800.0 * (1 + random.random())
        bookmarks = _bool_param(request.query.get("allowWatchBookmarks"))
        table = _wants_table(request)
        flt = WatchFilter(t.res.plural, t.namespace if t.res.namespaced else None, matches)
        events = watch_events(self.s.hub, self.s.store, flt, rv or None,
                              bookmark_every=self.s.bookmark_seconds if bookmarks else None)
        resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                           "Cache-Control": "no-cache, private"})
        for text in request.get(K_WARNINGS, ()):  # a stream's headers go out before the middleware sees it
            resp.headers.add("Warning", _warning_header(text))
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            async with asyncio.timeout(timeout):
                async for etype, obj in events:
                    if etype == "BOOKMARK":
                        payload = {"kind": t.res.kind, "apiVersion": t.res.api_version,
                                   "metadata": {"resourceVersion": str(obj)}}
                    elif table:
                        payload = self._table(request, t.res, [obj])  # type: ignore[list-item]
                        payload.setdefault("metadata", {})["resourceVersion"] = obj["metadata"].get("resourceVersion", "")  # type: ignore[index]
                    else:
                        payload = obj  # type: ignore[assignment]
                    await resp.write(json.dumps({"type": etype, "object": payload}, separators=(",", ":")).encode() + b"\n")
        except TimeoutError:
            pass
        except Compacted as e:
            status = errors.gone(f"too old resource version: {e.requested} ({e.oldest})").status()
            try:
                await resp.write(json.dumps({"type": "ERROR", "object": status}).encode() + b"\n")
            except ConnectionResetError:
                pass
        except ConnectionResetError:
            pass
        finally:
            await events.aclose()
        try:
            await resp.write_eof()
        except ConnectionResetError:
            pass
        return resp

    # --- write -------------------------------------------------------------------------------------
    async def _decoded_body(self, request: web.Request) -> dict:
        body = await read_body(request)
        return decode_object(body, request.headers.get("Content-Type", "application/json"))

    @staticmethod
    def _strict(request: web.Request) -> bool:
        return request.query.get("fieldValidation", "") == "Strict"

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        return bool(request.query.getall("dryRun", []))

    async def create(self, request: web.Request, t: Target) -> web.Response:
        obj = await self._decoded_body(request)
        created = await self.s.create_object(t.res, t.namespace or "", obj, dry_run=self._dry_run(request),
                                             strict=self._strict(request), manager=_field_manager(request))
        return _json(created, 201)

    async def update(self, request: web.Request, t: Target, subresource: str | None = None) -> web.Response:
        obj = await self._decoded_body(request)
        meta = _meta(obj)
        if meta.get("name") and meta["name"] != t.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({t.name})")
        if t.res.namespaced and meta.get("namespace") and meta["namespace"] != t.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        _check_kind(t.res, obj)
        client_rv = meta.get("resourceVersion") or None
        create_missing = None
        if t.res.plural in CREATE_ON_UPDATE and subresource is None:
            async def create_missing() -> dict:
                return await self.s.create_object(t.res, t.namespace or "", copy.deepcopy(obj),
                                                  manager=_field_manager(request), dry_run=self._dry_run(request))

        def compute(current: dict) -> dict:
            new = copy.deepcopy(obj)
            _meta(new).setdefault("name", t.name)
            return new
        stored, created = await self.s.guaranteed_update(
            t.res, t.namespace or "", t.name or "", compute, subresource=subresource, client_rv=client_rv,
            dry_run=self._dry_run(request), strict=self._strict(request), create_if_missing=create_missing,
            manager=_field_manager(request))
        return _json(stored, 201 if created else 200)

    async def patch(self, request: web.Request, t: Target, subresource: str | None = None) -> web.Response:
        body = await read_body(request)
        ct = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ct not in ("application/merge-patch+json", "application/json-patch+json",
                      "application/strategic-merge-patch+json", "application/apply-patch+yaml"):
            raise errors.unsupported_media(ct)
        strict = self._strict(request)
        dry = self._dry_run(request)
        manager = _field_manager(request)
        if ct == _patch.APPLY_PATCH:
            return await self._server_side_apply(request, t, body, subresource, strict, dry)

        def compute(current: dict) -> dict:
            return _apply_patch(t.res, current, body, ct)

        stored, created = await self.s.guaranteed_update(
            t.res, t.namespace or "", t.name or "", compute, subresource=subresource, dry_run=dry,
            strict=strict, client_rv=_patch_precondition(body, ct), manager=manager)
        return _json(stored, 201 if created else 200)

    async def _server_side_apply(self, request: web.Request, t: Target, body: bytes, subresource: str | None,
                                 strict: bool, dry: bool) -> web.Response:
        """`application/apply-patch+yaml`: the applied configuration is the manager's whole intent
        (fieldmanager.apply: removals, conflicts, `force`); a missing object is created from it."""
        manager = request.query.get("fieldManager", "")
        if not manager:
            raise errors.bad_request("PATCH /"+ t.res.plural + ": fieldManager is required for apply requests")
        force = _bool_param(request.query.get("force"))
        try:
            applied = _patch.decode_apply(body)
        except _patch.PatchError as e:
            raise ApiError(e.code, _PATCH_REASONS.get(e.code, "BadRequest"), e.message)
        meta = _meta(applied)
        if meta.get("name") and meta["name"] != t.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name "
                                     f"on the URL ({t.name})")
        _check_apply_schema(t.res, applied)

        def applied_over(current: dict | None) -> dict:
            try:
                return _fieldmanager.apply(current, applied, t.res.kind, manager, t.res.api_version,
                                           now_rfc3339(), force=force)
            except _fieldmanager.ApplyConflict as e:
                raise ApiError(409, "Conflict", str(e), {"causes": e.causes})

        create_missing = None
        if subresource is None:
            async def create_missing() -> dict:
                obj = applied_over(None)
                _meta(obj)["name"] = t.name
                return await self.s.create_object(t.res, t.namespace or "", obj, dry_run=dry, strict=strict)
        stored, created = await self.s.guaranteed_update(
            t.res, t.namespace or "", t.name or "", applied_over, subresource=subresource, dry_run=dry,
            strict=strict, create_if_missing=create_missing, client_rv=meta.get("resourceVersion") or None)
        return _json(stored, 201 if created else 200)

    async def _delete_options(self, request: web.Request) -> dict:
        opts: dict[str, Any] = {}
        body = await read_body(request)
        if body.strip():
            opts = decode_object(body, request.headers.get("Content-Type", "application/json"))
        q = request.query
        if "gracePeriodSeconds" in q:
            try:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            except ValueError:
                raise errors.bad_request(f'invalid gracePeriodSeconds "{q["gracePeriodSeconds"]}"')
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "orphanDependents" in q:
            opts["orphanDependents"] = _bool_param(q["orphanDependents"])
        if q.get("preconditions.uid") or q.get("preconditions.resourceVersion"):
            opts["preconditions"] = {"uid": q.get("preconditions.uid"),
                                     "resourceVersion": q.get("preconditions.resourceVersion")}
        return opts

    def _delete_answer(self, res: Resource, obj: dict, deleted: bool) -> web.Response:
        if res.plural in RETURN_DELETED_OBJECT or not deleted:
            return _json(obj)
        details = {"name": obj["metadata"].get("name"), "kind": res.plural, "uid": obj["metadata"].get("uid")}
        if res.group:
            details["group"] = res.group
        return _json(errors.success_status(details))

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        opts = await self._delete_options(request)
        obj, deleted = await self.s.delete_object(t.res, t.namespace or "", t.name or "", opts,
                                                  dry_run=self._dry_run(request))
        return self._delete_answer(t.res, obj, deleted)

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        matches = self._selectors(request, t.res)
        opts = await self._delete_options(request)
        items, _ = await self.s.store.list(t.res.plural, t.namespace if t.res.namespaced else None)
        out = []
        for obj in items:
            if not matches(obj):
                continue
            try:
                gone, _ = await self.s.delete_object(t.res, obj["metadata"].get("namespace", ""),
                                                     obj["metadata"]["name"], dict(opts),
                                                     dry_run=self._dry_run(request))
                out.append(gone)
            except ApiError as e:
                if e.code != 404:
                    raise
        return _json({"kind": t.res.list_kind, "apiVersion": t.res.api_version,
                      "metadata": {"resourceVersion": str(self.s.store.revision)}, "items": out})

    # --- subresources ------------------------------------------------------------------------------
    async def scale_write(self, request: web.Request, t: Target) -> web.Response:
        ns, name = t.namespace or "", t.name or ""
        if request.method == "PUT":
            scale = await self._decoded_body(request)
        else:
            body = await read_body(request)
            ct = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            current = _to_scale(t.res, await self.s._get(t.res, ns, name))
            scale = _apply_patch(t.res, current, body, ct)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                           f"{replicas}: must be greater than or equal to 0",
                           {"name": name, "group": "autoscaling", "kind": "Scale", "causes": [
                               {"reason": "FieldValueInvalid", "field": "spec.replicas",
                                "message": f"Invalid value: {replicas}: must be greater than or equal to 0"}]})
        client_rv = (scale.get("metadata") or {}).get("resourceVersion") if request.method == "PUT" else None

        def compute(current: dict) -> dict:
            current.setdefault("spec", {})["replicas"] = replicas
            return current
        stored, _ = await self.s.guaranteed_update(t.res, ns, name, compute, client_rv=client_rv or None,
                                                   subresource="scale", manager=_field_manager(request),
                                                   dry_run=self._dry_run(request))
        return _json(_to_scale(t.res, stored))

    async def eviction(self, request: web.Request, t: Target) -> web.Response:
        """POST pods/<name>/eviction (policy/v1 Eviction): the pod is deleted with the Eviction's
        deleteOptions, and the answer is a bare `Status: Success`, 201, as Kubernetes' EvictionREST sends.
        We serve no PodDisruptionBudgets, so no eviction is ever refused with 429."""
        if t.res.plural != "pods":
            raise errors.method_not_allowed()
        ev = await self._decoded_body(request)
        ns, name = t.namespace or "", t.name or ""
        if (ev.get("metadata") or {}).get("name") != name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        await self.s.delete_object(t.res, ns, name, dict(ev.get("deleteOptions") or {}),
                                   dry_run=self._dry_run(request))
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}, status=201)

    async def binding(self, request: web.Request, t: Target) -> web.Response:
        if t.res.plural != "pods":
            raise errors.method_not_allowed()
        binding = await self._decoded_body(request)
        node = (binding.get("target") or {}).get("name")
        if not node:
            raise ApiError(422, "Invalid", f'Binding "{t.name}" is invalid: target.name: Required value',
                           {"name": t.name, "kind": "Binding", "causes": [
                               {"reason": "FieldValueRequired", "field": "target.name", "message": "Required value"}]})
        res, ns, name = t.res, t.namespace or "", t.name or ""
        # Binding is its own registry path in Kubernetes: it may set spec.nodeName, which a pod update
        # may not, so it writes directly (one CAS write: nodeName + the PodScheduled condition).
        for _ in range(STATUS_CODES_TO_RETRY):
            pod = await self.s._get(res, ns, name)
            spec = pod.setdefault("spec", {})
            if _meta(pod).get("deletionTimestamp"):
                raise errors.conflict_message(res, name, "pod is being deleted, cannot be assigned to a host")
            if spec.get("nodeName"):
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod '
                               f'{name} is already assigned to node "{spec["nodeName"]}"',
                               {"name": name, "kind": "pods/binding"})
            spec["nodeName"] = node
            status = pod.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": now_rfc3339()})
            status["conditions"] = conds
            try:
                await self.s.store.update(res.plural, ns, name, pod, _rv(pod))
                break
            except (Conflict, NotFound):
                continue
        else:
            raise errors.conflict(res, name)
        return _json(errors.success_status(), 201)

    # --- relays to the node agent ------------------------------------------------------------------
    async def _pod_container(self, request: web.Request, t: Target) -> tuple[dict, str]:
        pod = await self.s._get(t.res, t.namespace or "", t.name or "")
        names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        init = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
        container = request.query.get("container")
        if not container:
            if len(names) != 1:
                raise errors.bad_request(f"a container name must be specified for pod {t.name}, choose one of: "
                                         f"[{' '.join(names)}]")
            container = names[0]
        if container not in names and container not in init:
            raise errors.bad_request(f"container {container} is not valid for pod {t.name}")
        return pod, container

    async def _agent_base(self, pod: dict) -> str:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
        node = await self.s.store.get("nodes", "", node_name)
        if node is None:
            raise errors.not_found(RESOURCES["nodes"], node_name)
        status = node.get("status") or {}
        ip = next((a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
        if not ip:
            raise errors.internal(f"node {node_name} has no InternalIP")
        port = (((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")) or AGENT_PORT
        host = f"[{ip}]" if ":" in ip else ip
        return f"http://{host}:{port}"

    @staticmethod
    def _waiting_reason(pod: dict, container: str) -> str | None:
        """Why a container has nothing to show yet (kubectl's `is waiting to start: <reason>`), or None."""
        status = pod.get("status") or {}
        for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
            if cs.get("name") == container:
                state = cs.get("state") or {}
                if "running" in state or "terminated" in state:
                    return None
                if cs.get("lastState", {}).get("terminated"):
                    return None
                reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
                # The kubelet's own words (validateContainerLogStatus) for the two image-pull reasons.
                return {"ErrImagePull": "image can't be pulled",
                        "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
        return "ContainerCreating"

    async def pod_log(self, request: web.Request, t: Target) -> web.StreamResponse:
        pod, container = await self._pod_container(request, t)
        previous = _bool_param(request.query.get("previous"))
        reason = self._waiting_reason(pod, container)
        if reason and not previous:
            raise errors.bad_request(f'container "{container}" in pod "{t.name}" is waiting to start: {reason}')
        base = await self._agent_base(pod)
        params = {k: request.query[k] for k in ("follow", "tailLines", "previous", "timestamps", "sinceSeconds",
                                                 "sinceTime", "limitBytes") if k in request.query}
        url = f"{base}/containerLogs/{t.namespace}/{t.name}/{container}"
        assert self.s.http is not None
        try:
            upstream = await self.s.http.get(url, params=params,
                                             headers={"Authorization": f"Bearer {self.s.node_token}"})
        except aiohttp.ClientError as e:
            raise errors.internal(f'Get "{url}": {e}')
        async with upstream:
            if upstream.status >= 400:
                text = await upstream.text()
                try:
                    body = json.loads(text)
                    if body.get("kind") == "Status":
                        return _json(body, upstream.status)
                except ValueError:
                    pass
                raise ApiError(upstream.status, "BadRequest" if upstream.status == 400 else "InternalError", text.strip())
            resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
            except (ConnectionResetError, aiohttp.ClientError):
                pass
            try:
                await resp.write_eof()
            except ConnectionResetError:
                pass
            return resp

    async def pod_exec(self, request: web.Request, t: Target, sub: str = "exec") -> web.StreamResponse:
        """`pods/exec` and `pods/attach` (`kubectl exec`, `attach`, `run -i`): a WebSocket relayed frame by
        frame to the agent's endpoint of the same name, which speaks the channel protocol to Docker."""
        pod, container = await self._pod_container(request, t)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("Upgrade request required")
        reason = self._waiting_reason(pod, container)
        if reason:
            raise errors.bad_request(f'container "{container}" in pod "{t.name}" is waiting to start: {reason}')
        base = await self._agent_base(pod)
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        supported = ("v5.channel.k8s.io", "v4.channel.k8s.io")
        chosen = next((p for p in offered if p in supported), None)
        if chosen is None:
            raise errors.bad_request(f"{sub} needs the WebSocket subprotocol v5.channel.k8s.io or v4.channel.k8s.io")
        relayed = ("stdin", "stdout", "stderr", "tty") + (("command",) if sub == "exec" else ())
        params = [(k, v) for k, v in request.query.items() if k in relayed]
        url = f"{base.replace('http://', 'ws://')}/{sub}/{t.namespace}/{t.name}/{container}"
        assert self.s.http is not None
        try:
            upstream = await self.s.http.ws_connect(url, params=params, protocols=(chosen,),
                                                    headers={"Authorization": f"Bearer {self.s.node_token}"},
                                                    max_msg_size=0, autoping=True)
        except (aiohttp.ClientError, aiohttp.WSServerHandshakeError) as e:
            raise errors.internal(f"unable to upgrade connection: {e}")
        ws = web.WebSocketResponse(protocols=(chosen,), max_msg_size=0, autoping=True)
        await ws.prepare(request)

        async def pump(src, dst) -> None:
            async for msg in src:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await dst.send_bytes(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    await dst.send_str(msg.data)
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                    break

        down = asyncio.ensure_future(pump(upstream, ws))
        up = asyncio.ensure_future(pump(ws, upstream))
        try:
            # The agent ends the session (status on channel 3, then close); the client may also hang up.
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
            if up.done() and not down.done():
                # Client closed its side (or sent a close): give the agent a moment to finish, then stop.
                try:
                    await asyncio.wait_for(asyncio.shield(down), 5)
                except (asyncio.TimeoutError, Exception):
                    pass
        finally:
            for task in (down, up):
                task.cancel()
            await asyncio.gather(down, up, return_exceptions=True)
            await upstream.close()
            await ws.close()
        return ws

    async def pod_portforward(self, request: web.Request, t: Target) -> web.StreamResponse:
        """kubectl port-forward. Since 1.31 kubectl tunnels SPDY/3.1 in WebSocket binary messages
        (subprotocol `SPDY/3.1+portforward.k8s.io`); when that upgrade is refused it falls back to a plain
        `Upgrade: SPDY/3.1` (`X-Stream-Protocol-Version: portforward.k8s.io`, also what older clients send).
        Either way the agent terminates SPDY: we only relay the bytes to its WebSocket, as the real
        apiserver relays to the kubelet."""
        pod = await self.s._get(t.res, t.namespace or "", t.name or "")
        upgrade = request.headers.get("Upgrade", "").lower()
        tunnel = "SPDY/3.1+portforward.k8s.io"
        if upgrade == "websocket":
            offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
            if tunnel not in offered:
                raise errors.bad_request(f"port-forward needs the WebSocket subprotocol {tunnel}")
        elif upgrade == "spdy/3.1":
            offered = [p.strip() for v in request.headers.getall("X-Stream-Protocol-Version", [])
                       for p in v.split(",")]
            if offered and "portforward.k8s.io" not in offered:
                raise ApiError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client "
                                                 f"supports {offered}, server supports [portforward.k8s.io]")
        else:
            raise errors.bad_request("Upgrade request required")
        if ((pod.get("status") or {}).get("phase")) != "Running":
            raise errors.bad_request(f"pod {t.name} is not running")
        base = await self._agent_base(pod)
        url = f"{base.replace('http://', 'ws://')}/portForward/{t.namespace}/{t.name}"
        assert self.s.http is not None
        try:
            upstream = await self.s.http.ws_connect(url, protocols=(tunnel,), max_msg_size=0, autoping=True,
                                                    headers={"Authorization": f"Bearer {self.s.node_token}"})
        except (aiohttp.ClientError, aiohttp.WSServerHandshakeError) as e:
            raise errors.internal(f"unable to upgrade connection: {e}")
        if upgrade == "websocket":
            ws = web.WebSocketResponse(protocols=(tunnel,), max_msg_size=0, autoping=True)
            await ws.prepare(request)

            async def client_messages():
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        yield msg.data
                    elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                        break
            to_client, incoming, resp = ws.send_bytes, client_messages(), ws
        else:
            raw = _RawUpgrade({"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                               "X-Stream-Protocol-Version": "portforward.k8s.io"})
            await raw.prepare(request)
            to_client, incoming, resp = raw.send, raw.chunks(), raw

        async def down() -> None:
            async for msg in upstream:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await to_client(msg.data)
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                    break

        async def up() -> None:
            async for data in incoming:
                await upstream.send_bytes(data)

        tasks = {asyncio.ensure_future(down()), asyncio.ensure_future(up())}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # either side hanging up ends it
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await upstream.close()
            await resp.close()
        return resp


class _RawUpgrade(web.StreamResponse):
    """`101 Switching Protocols` to a non-WebSocket protocol (SPDY/3.1), after which the connection's bytes
    belong to the handler: aiohttp hands what it receives to the parser set on the protocol (this object:
    `feed_data`/`feed_eof`), and `send` writes to the transport directly."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(status=101, headers=headers)
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._transport: asyncio.Transport | None = None

    async def prepare(self, request: web.BaseRequest):
        self.force_close()
        writer = await super().prepare(request)
        request.protocol.set_parser(self)  # type: ignore[arg-type]
        request.protocol.keep_alive(False)
        self._transport = request.transport  # type: ignore[assignment]
        return writer

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._incoming.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._incoming.put_nowait(None)

    async def chunks(self):
        while (data := await self._incoming.get()) is not None:
            yield data

    async def send(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionResetError("connection closed")
        self._transport.write(data)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def write_eof(self, data: bytes = b"") -> None:
        await self.close()  # nothing HTTP follows an upgrade

_PATCH_REASONS = {400: "BadRequest", 415: "UnsupportedMediaType", 422: "Invalid"}


def _patch_precondition(body: bytes, content_type: str) -> str:
    """The resourceVersion a patch *itself* names ("" for none).

    A patch is applied to whatever is current, so racing another writer is our problem, not the
    client's: retry, as the apiserver does. Only a patch that carries `metadata.resourceVersion` asks for
    optimistic concurrency (a JSON patch expresses it with a `test` op, which apply_patch checks).
    """
    if content_type == "application/json-patch+json":
        return ""
    try:
        doc = yaml.safe_load(body) if content_type == "application/apply-patch+yaml" else json.loads(body)
    except (ValueError, yaml.YAMLError):
        return ""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return str(rv) if rv else ""


def _field_manager(request: web.Request) -> str:
    """Who is writing, for managedFields: `?fieldManager=`, else the User-Agent's first word (the
    apiserver's rule: `kubectl/v1.33.0 (linux/amd64)` → `kubectl`)."""
    given = request.query.get("fieldManager")
    if given:
        return given[:128]
    agent = request.headers.get("User-Agent", "").split("/", 1)[0].strip()
    return agent[:128] or "unknown"


def _apply_patch(res: Resource, obj: dict, body: bytes, content_type: str) -> dict:
    """patch.apply_patch with its errors as Status answers (400 undecodable, 415 unknown type, 422 not
    applicable)."""
    try:
        return _patch.apply_patch(res, obj, body, content_type)
    except _patch.PatchError as e:
        raise ApiError(e.code, _PATCH_REASONS.get(e.code, "BadRequest"), e.message)


def _to_scale(res: Resource, obj: dict) -> dict:
    if res.plural not in ("deployments", "replicasets"):
        raise errors.not_found(res, obj["metadata"]["name"])
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector")
    try:
        sel = str(label_selector_from_spec(selector)) if selector is not None else ""
    except ValueError:
        sel = ""
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                         "resourceVersion": meta.get("resourceVersion"),
                         "creationTimestamp": meta.get("creationTimestamp")},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": sel}}


# --- running it ------------------------------------------------------------------------------------

async def serve(app: web.Application, hosts: list[str], port: int, ssl_context: ssl.SSLContext | None
                ) -> web.AppRunner:
    """Listen on each of *hosts* (never 0.0.0.0 unless asked) and return the runner (`await runner.cleanup()`).

    `handler_cancellation=True`: a client that goes away cancels its handler, so idle watches don't pile
    up. Store writes are shielded against that cancellation (sqlite.py), so an acknowledged-or-not write
    is never half-announced.
    """
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    for host in hosts:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_address=True)
        await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (for port 0 in tests)."""
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return server.sockets[0].getsockname()[1]
    raise RuntimeError("not listening")

