"""One probe worker: probes one container with one probe (liveness, readiness or startup), periodically.

The loop, each `periodSeconds` (the first run is jittered within one period when the agent restarted
under a running container, so a restart doesn't probe every pod at the same instant):
`do_probe()` returns whether to keep going; it writes only the manager's results cache, never pod status.
As the kubelet's worker, it runs once when created and then on a ticker; the manager creates it when the
pod is admitted, before its containers exist, so a liveness probe first meets a container about one
period after the pod starts. `trigger()` (the kubelet's manualTriggerCh) runs it at once without moving
the ticker: the manager uses it for a readiness probe whose running container is not ready yet.
Thresholds count *runs of the same result*: below failureThreshold (or successThreshold) consecutive
equal results, nothing changes.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING

from agent.prober.exec import probe_exec
from agent.prober.http import probe_headers, probe_http, probe_url
from agent.prober.tcp import probe_tcp
from agent.runtime import parse_rfc3339

if TYPE_CHECKING:
    from agent.prober.manager import ProbeManager, ProbeTarget

log = logging.getLogger(__name__)

PROBE_NAMES = {"liveness": "Liveness", "readiness": "Readiness", "startup": "Startup"}


class ProbeWorker:
    def __init__(self, manager: "ProbeManager", uid: str, container: str, kind: str, spec: dict,
                 target: "ProbeTarget", jitter: bool) -> None:
        self.manager = manager
        self.uid = uid
        self.container = container
        self.kind = kind  # liveness | readiness | startup
        self.spec = spec
        self.target = target
        self.period = max(1, int(spec.get("periodSeconds", 10)))
        self.timeout = max(1, int(spec.get("timeoutSeconds", 1)))
        self.initial_delay = int(spec.get("initialDelaySeconds", 0))
        self.success_threshold = max(1, int(spec.get("successThreshold", 1)))
        self.failure_threshold = max(1, int(spec.get("failureThreshold", 3)))
        self.jitter = jitter
        self.container_id: str | None = None
        self.last_result: bool | None = None
        self.result_run = 0
        self.on_hold = False  # after a liveness/startup failure: until the container is replaced
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()  # a pending manual trigger (one slot, like a buffered Go channel)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.uid, self.container, self.kind)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"probe-{self.kind}-{self.container}-{self.uid[:8]}")

    def stop(self) -> None:
        """Idempotent: cancel the loop (the manager drops the result)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def trigger(self) -> None:
        """Probe now (once), whatever the ticker says; triggers while one is pending coalesce."""
        self._wake.set()

    async def _run(self) -> None:
        if self.jitter:
            await asyncio.sleep(random.uniform(0, self.period))
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.period
        while True:
            self._wake.clear()
            try:
                keep_going = await self.do_probe()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a probe bug must not kill the worker
                log.exception("probe %s failed unexpectedly", self.key)
                keep_going = True
            if not keep_going:
                return
            timeout = next_tick - loop.time()
            if timeout > 0 and not self._wake.is_set():
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
            now = loop.time()
            while next_tick <= now:  # a ticker: missed ticks are dropped, a trigger doesn't move it
                next_tick += self.period

    async def do_probe(self) -> bool:
        target = self.target
        cid = target.container_id
        if cid is None or not target.running:
            return True  # no running container: nothing to probe yet
        if cid != self.container_id:
            # A new container instance: start from the initial result and counters.
            self.container_id = cid
            self.last_result, self.result_run, self.on_hold = None, 0, False
            self.manager.set_result(self.key, cid, self.manager.initial_result(self.kind))
        if self.on_hold:
            return True  # liveness/startup already failed: wait for the restart
        if self.kind != "startup" and self.manager.has_startup_probe(self.uid, self.container) \
                and not self.manager.started(self.uid, self.container, cid):
            return True  # the startup probe holds liveness and readiness off
        if self.kind == "startup" and self.manager.started(self.uid, self.container, cid):
            return True  # startup probes stop once they succeeded
        started = parse_rfc3339(target.started_at)
        if started is not None and time.time() - started.timestamp() < self.initial_delay:
            return True  # within initialDelaySeconds
        ok, message = await self.run_probe()
        if target.container_id != cid:
            return True  # the container changed while probing; the result is about the old one
        if not ok:
            await self.manager.record_failure(self, message)
        if ok == self.last_result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = ok, 1
        if (not ok and self.result_run < self.failure_threshold) or (ok and self.result_run < self.success_threshold):
            return True  # below threshold: nothing changes
        self.manager.set_result(self.key, cid, ok)
        if not ok and self.kind in ("liveness", "startup"):
            # The sync restarts the container; probing it again before that would double-count.
            self.on_hold = True
            self.result_run = 0
        return True

    async def run_probe(self) -> tuple[bool, str]:
        spec, target = self.spec, self.target
        if "exec" in spec:
            return await probe_exec(self.manager.runtime, target.container_id or "",
                                    list((spec["exec"] or {}).get("command") or []), self.timeout)
        if "httpGet" in spec:
            h = spec["httpGet"] or {}
            port = target.resolve_port(h.get("port"))
            if port is None:
                return False, f"unknown port {h.get('port')!r}"
            host = h.get("host") or target.pod_ip
            if not host:
                return False, "pod has no IP yet"
            url = probe_url(h.get("scheme", "HTTP"), host, port, h.get("path", "/"))
            return await probe_http(url, probe_headers(h.get("httpHeaders")), self.timeout,
                                    self.manager.http_session())
        if "tcpSocket" in spec:
            t = spec["tcpSocket"] or {}
            port = target.resolve_port(t.get("port"))
            host = t.get("host") or target.pod_ip
            if port is None or not host:
                return False, f"unknown port {t.get('port')!r}" if port is None else "pod has no IP yet"
            return await probe_tcp(host, port, self.timeout)
        if "grpc" in spec:
            return False, "grpc probes are not supported by minikube-py"
        return True, ""
