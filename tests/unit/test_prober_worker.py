"""Probe workers: thresholds as runs of results, initial delay, startup gating, results per instance."""
from __future__ import annotations

import pytest
from aiohttp import web

from agent.prober.http import probe_headers, probe_http, probe_url
from agent.prober.manager import ProbeManager
from agent.prober.tcp import probe_tcp

POD = {"metadata": {"uid": "u1", "name": "p"},
       "spec": {"containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}],
                                "livenessProbe": {"exec": {"command": ["x"]}, "failureThreshold": 3},
                                "readinessProbe": {"exec": {"command": ["x"]}, "successThreshold": 2}}]}}


@pytest.fixture
async def manager():
    changes: list[str] = []
    m = ProbeManager(runtime=None, on_change=changes.append)  # type: ignore[arg-type]
    m.update_pod(POD, {"app": ("c1", True, "")}, "10.0.0.5")
    for w in m.workers.values():  # drive workers by hand, not by their timers
        w.stop()
    yield m, changes
    await m.stop()


def script(worker, results):
    it = iter(results)

    async def run_probe():
        return next(it), "boom"
    worker.run_probe = run_probe


async def test_liveness_fails_only_after_failure_threshold_consecutive_failures(manager):
    m, changes = manager
    w = m.workers[("u1", "app", "liveness")]
    script(w, [False, False, True, False, False, False])
    for _ in range(5):
        await w.do_probe()
        assert m.liveness_failed("u1", "app", "c1") is None  # F F S F F: never 3 in a row
    await w.do_probe()
    assert m.liveness_failed("u1", "app", "c1") == "liveness" and "u1" in changes
    assert m.liveness_failed("u1", "app", "c2") is None  # a new instance starts fresh


async def test_readiness_starts_false_and_needs_success_threshold(manager):
    m, _ = manager
    w = m.workers[("u1", "app", "readiness")]
    script(w, [True, True, False])
    assert m.ready("u1", "app", "c1") is False
    await w.do_probe()
    assert m.ready("u1", "app", "c1") is False
    await w.do_probe()
    assert m.ready("u1", "app", "c1") is True
    await w.do_probe()  # failureThreshold 3 by default: one failure changes nothing
    assert m.ready("u1", "app", "c1") is True


async def test_initial_delay_and_startup_gating():
    m = ProbeManager(runtime=None, on_change=lambda uid: None)  # type: ignore[arg-type]
    pod = {"metadata": {"uid": "u2"}, "spec": {"containers": [{"name": "app",
           "startupProbe": {"exec": {"command": ["x"]}, "failureThreshold": 1},
           "readinessProbe": {"exec": {"command": ["x"]}, "initialDelaySeconds": 60}}]}}
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    m.update_pod(pod, {"app": ("c1", True, now)}, "10.0.0.6")
    for w in m.workers.values():
        w.stop()
    ready, startup = m.workers[("u2", "app", "readiness")], m.workers[("u2", "app", "startup")]
    calls = []

    async def never():
        calls.append(1)
        return True, ""
    ready.run_probe = never
    await ready.do_probe()  # held off by the startup probe
    assert calls == [] and m.started("u2", "app", "c1") is False
    script(startup, [True])
    await startup.do_probe()
    assert m.started("u2", "app", "c1") is True
    await ready.do_probe()  # now within initialDelaySeconds
    assert calls == []
    await m.stop()


def test_probe_url_and_headers():
    assert probe_url("HTTP", "10.0.0.5", 8080, "healthz") == "http://10.0.0.5:8080/healthz"
    assert probe_url("HTTPS", "fd00::1", 443, "/") == "https://[fd00::1]:443/"
    h = probe_headers([{"name": "user-agent", "value": "mine"}, {"name": "Host", "value": "v1.example"}])
    assert h == {"Accept": "*/*", "user-agent": "mine", "Host": "v1.example"}
    assert probe_headers(None)["User-Agent"] == "kube-probe/1.33"


async def test_http_probe_codes_redirects_and_user_agent():
    seen = []

    async def handler(request):
        seen.append(request.headers.get("User-Agent"))
        path = request.path
        if path == "/ok":
            return web.Response(text="ok")
        if path == "/same":
            raise web.HTTPFound("/ok")
        if path == "/elsewhere":
            raise web.HTTPFound("http://other.invalid/")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        h = probe_headers(None)
        assert await probe_http(f"http://127.0.0.1:{port}/ok", h, 2) == (True, "")
        assert await probe_http(f"http://127.0.0.1:{port}/nope", h, 2) == (
            False, "HTTP probe failed with statuscode: 404")
        assert (await probe_http(f"http://127.0.0.1:{port}/same", h, 2))[0] is True
        ok, msg = await probe_http(f"http://127.0.0.1:{port}/elsewhere", h, 2)
        assert ok and msg.startswith("Probe terminated redirects")  # not followed to another host
        assert set(seen) == {"kube-probe/1.33"}
        assert await probe_tcp("127.0.0.1", port, 1) == (True, "")
    finally:
        await runner.cleanup()


def _timed_pod(uid: str, **probes) -> dict:
    return {"metadata": {"uid": uid, "name": "p"}, "spec": {"containers": [{"name": "app", **probes}]}}


async def test_worker_added_before_its_container_first_probes_a_period_later():
    """As the kubelet: the worker exists from the pod's first sync; the container starting just after does
    not get probed until the next tick (a liveness probe with initialDelaySeconds 0 gives the app one period
    to listen, instead of a `connection refused` Unhealthy event on every fresh pod)."""
    import asyncio
    m = ProbeManager(runtime=None, on_change=lambda uid: None)  # type: ignore[arg-type]
    pod = _timed_pod("u3", livenessProbe={"exec": {"command": ["x"]}, "periodSeconds": 1})
    m.update_pod(pod, {}, None)  # admitted: no container yet
    calls: list[float] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def probe():
        calls.append(loop.time() - t0)
        return True, ""
    m.workers[("u3", "app", "liveness")].run_probe = probe
    await asyncio.sleep(0.05)
    m.update_pod(pod, {"app": ("c1", True, "")}, "10.0.0.7")  # the container runs now
    await asyncio.sleep(0.5)
    assert calls == []  # not probed at once
    await asyncio.sleep(0.7)
    assert len(calls) == 1 and 0.9 <= calls[0] < 1.3  # on the first tick
    await m.stop()


async def test_readiness_of_a_running_unready_container_is_probed_at_once():
    """The kubelet's manual trigger: readiness doesn't wait a whole period (10 s) to turn a pod Ready, and
    a trigger does not move the ticker."""
    import asyncio
    changes: list[str] = []
    m = ProbeManager(runtime=None, on_change=changes.append)  # type: ignore[arg-type]
    pod = _timed_pod("u4", readinessProbe={"exec": {"command": ["x"]}, "periodSeconds": 10})
    m.update_pod(pod, {}, None)
    calls: list[int] = []

    async def probe():
        calls.append(1)
        return True, ""
    m.workers[("u4", "app", "readiness")].run_probe = probe
    await asyncio.sleep(0.05)
    m.update_pod(pod, {"app": ("c1", True, "")}, "10.0.0.8")  # the sync after the container started
    for _ in range(20):
        await asyncio.sleep(0.05)
        if calls:
            break
    assert calls == [1] and m.ready("u4", "app", "c1") is True and "u4" in changes
    m.update_pod(pod, {"app": ("c1", True, "")}, "10.0.0.8")  # ready now: no more triggers
    await asyncio.sleep(0.2)
    assert calls == [1]
    await m.stop()
