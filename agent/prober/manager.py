"""The probe manager: owns the probe workers and the results cache the pod sync reads.

Lifecycle (the whole story, as in the kubelet's prober_manager.go):
1. Each pod sync calls `update_pod(pod, containers, pod_ip)` with what it sees: for every container that
   declares a liveness/readiness/startup probe, a worker keyed `(pod uid, container, probe type)` exists
   (created once, at the pod's first sync before any container exists, as the kubelet's AddPod; its
   `ProbeTarget` is updated in place with the current container id, start time and pod IP). Workers of
   containers/probes no longer in the spec are stopped. A readiness worker whose container runs but is
   not ready yet is triggered to probe at once.
2. Workers probe on their own schedule and write only `set_result(key, container id, ok)`. A result is
   tied to the container *instance*: a restarted container starts from the initial result again
   (readiness False, liveness success, startup not started).
3. When a result changes, the manager calls `on_change(uid)`: the agent enqueues the pod, and its sync
   reads `ready()`, `started()` and `liveness_failed()` while computing status or deciding to restart.
   Workers never write pod status.
4. `remove_pod(uid)` stops the pod's workers and forgets their results (pod deleted). `stop()` is
   idempotent everywhere.
Failed probes are reported as `Unhealthy` events through `on_event`, one per failed run (as the kubelet).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Awaitable, Callable

import aiohttp

from agent.prober.worker import PROBE_NAMES, ProbeWorker
from agent.runtime import Runtime

log = logging.getLogger(__name__)

PROBE_KINDS = {"livenessProbe": "liveness", "readinessProbe": "readiness", "startupProbe": "startup"}


@dataclasses.dataclass
class ProbeTarget:
    """What a worker probes; updated in place by the sync."""

    container_id: str | None = None
    running: bool = False
    started_at: str = ""
    pod_ip: str | None = None
    ports: dict[str, int] = dataclasses.field(default_factory=dict)

    def resolve_port(self, port: int | str | None) -> int | None:
        if isinstance(port, int):
            return port
        if isinstance(port, str):
            if port.isdigit():
                return int(port)
            return self.ports.get(port)
        return None


@dataclasses.dataclass
class ProbeResult:
    container_id: str
    ok: bool


class ProbeManager:
    def __init__(self, runtime: Runtime, on_change: Callable[[str], None],
                 on_event: Callable[[str, str, str, str], Awaitable[None]] | None = None,
                 jitter_first: bool = False) -> None:
        self.runtime = runtime
        self.on_change = on_change
        self.on_event = on_event
        self.jitter_first = jitter_first  # True for workers created at agent start (adopted containers)
        self.workers: dict[tuple[str, str, str], ProbeWorker] = {}
        self.targets: dict[tuple[str, str], ProbeTarget] = {}
        self.results: dict[tuple[str, str, str], ProbeResult] = {}
        self._session: aiohttp.ClientSession | None = None

    # --- the sync's side ---------------------------------------------------------------------------
    def update_pod(self, pod: dict, containers: dict[str, tuple[str | None, bool, str]], pod_ip: str | None,
                   adopted: bool = False) -> None:
        """Make workers match the pod spec; `containers`: name → (container id, running, startedAt)."""
        uid = pod["metadata"]["uid"]
        wanted: set[tuple[str, str, str]] = set()
        for c in (pod.get("spec") or {}).get("containers") or []:
            name = c["name"]
            target = self.targets.setdefault((uid, name), ProbeTarget())
            cid, running, started_at = containers.get(name, (None, False, ""))
            target.container_id, target.running, target.started_at = cid, running, started_at
            target.pod_ip = pod_ip
            target.ports = {p["name"]: int(p["containerPort"]) for p in c.get("ports") or [] if p.get("name")}
            for field, kind in PROBE_KINDS.items():
                spec = c.get(field)
                if not spec:
                    continue
                key = (uid, name, kind)
                wanted.add(key)
                if key not in self.workers:
                    worker = ProbeWorker(self, uid, name, kind, spec, target, jitter=adopted and self.jitter_first)
                    self.workers[key] = worker
                    worker.start()
                elif kind == "readiness" and running and self._result(uid, name, kind, cid) is not True:
                    # The kubelet's UpdatePodStatus: a running container not ready yet has its readiness
                    # probe run at once rather than at the next tick.
                    self.workers[key].trigger()
        for key in [k for k in self.workers if k[0] == uid and k not in wanted]:
            self.workers.pop(key).stop()
            self.results.pop(key, None)

    def remove_pod(self, uid: str) -> None:
        for key in [k for k in self.workers if k[0] == uid]:
            self.workers.pop(key).stop()
        for key in [k for k in self.results if k[0] == uid]:
            del self.results[key]
        for key in [k for k in self.targets if k[0] == uid]:
            del self.targets[key]

    def has_probe(self, uid: str, container: str, kind: str) -> bool:
        return (uid, container, kind) in self.workers

    def has_startup_probe(self, uid: str, container: str) -> bool:
        return self.has_probe(uid, container, "startup")

    def _result(self, uid: str, container: str, kind: str, cid: str | None) -> bool | None:
        r = self.results.get((uid, container, kind))
        if r is None or r.container_id != cid:
            return None
        return r.ok

    def started(self, uid: str, container: str, cid: str | None) -> bool:
        """The startup probe succeeded for this instance (True when there is none)."""
        if not self.has_startup_probe(uid, container):
            return True
        return bool(self._result(uid, container, "startup", cid))

    def ready(self, uid: str, container: str, cid: str | None) -> bool:
        """Readiness of this instance: no readiness probe → ready once started."""
        if not self.started(uid, container, cid):
            return False
        if not self.has_probe(uid, container, "readiness"):
            return True
        return bool(self._result(uid, container, "readiness", cid))

    def liveness_failed(self, uid: str, container: str, cid: str | None) -> str | None:
        """`"liveness"` or `"startup"` when that probe has failed past its threshold for this instance."""
        if self._result(uid, container, "liveness", cid) is False:
            return "liveness"
        if self._result(uid, container, "startup", cid) is False:
            return "startup"
        return None

    # --- the workers' side -------------------------------------------------------------------------
    @staticmethod
    def initial_result(kind: str) -> bool | None:
        return {"readiness": False, "liveness": True, "startup": None}[kind]

    def set_result(self, key: tuple[str, str, str], cid: str, ok: bool | None) -> None:
        old = self.results.get(key)
        if ok is None:
            if old is not None:
                del self.results[key]
                self.on_change(key[0])
            return
        new = ProbeResult(cid, ok)
        if old != new:
            self.results[key] = new
            if old is not None or key[2] != "readiness" or ok:
                self.on_change(key[0])

    async def record_failure(self, worker: ProbeWorker, message: str) -> None:
        if self.on_event is not None:
            await self.on_event(worker.uid, worker.container, "Unhealthy",
                                f"{PROBE_NAMES[worker.kind]} probe failed: {message}")

    def http_session(self) -> aiohttp.ClientSession:
        """One session for all HTTP probes; no keep-alive (each probe is a fresh connection, as kubelet)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=False, force_close=True, limit=0),
                cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def stop(self) -> None:
        for w in self.workers.values():
            w.stop()
        self.workers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
