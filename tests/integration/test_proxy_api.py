"""The proxy against the real API server (in-process, on 127.0.0.1): informers list and watch Services,
Endpoints and this node's Pods, and the rules in the test node namespace follow every change without any
periodic resync (it is set to a minute here, so only watch events can explain what we observe).

The namespaces are the ones of test_proxy_iptables.py (a `cni0` bridge, three pods answering their name);
no packet leaves them.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from minikube_py.config import ClusterConfig
from proxy.iptables import IptablesApplier
from proxy.proxier import make_proxier
from tests.integration.test_proxy_iptables import APP_PORT, GATEWAY, POD_CIDR, POD_IPS, sh, topo  # noqa: F401

from tests.integration.test_proxy_iptables import pytestmark  # noqa: E402,F401 — same needs: root, netns

NODE = "mkt-px-node"


async def eventually(check, timeout: float = 5.0):
    """Poll a blocking *check* (run in a thread, so the proxier keeps running meanwhile) until true."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await asyncio.to_thread(check)
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_proxy_follows_services_endpoints_and_pods_from_the_api(topo, client):
    # The real node namespace routes the service CIDR into cni0; so does our test node.
    config = ClusterConfig(profile="mkt-px", pod_cidr=POD_CIDR)
    sh("ip", "-n", topo.node, "route", "replace", config.service_cidr, "dev", "cni0")
    svc = await client.create("services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80, "targetPort": APP_PORT, "protocol": "TCP"}]}}, "default")
    vip = svc["spec"]["clusterIP"]
    assert vip.startswith("10.")
    await client.create("endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": ip} for ip in POD_IPS.values()],
                     "ports": [{"port": APP_PORT, "protocol": "TCP"}]}]}, "default")
    pod = await client.create("pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "minikube-py/echo:v1",
                                                   "ports": [{"containerPort": APP_PORT, "hostPort": 18080}]}]}},
        "default")
    pod["status"] = {"phase": "Running", "podIP": POD_IPS["p1"]}
    await client.update_status("pods", pod)

    proxier = make_proxier(client, config, NODE, GATEWAY, netns=topo.node)
    proxier.full_resync_interval = 60.0
    task = asyncio.create_task(proxier.run())
    try:
        await eventually(lambda: set(topo.ask(topo.node, vip, 80, 30)) == {"p1", "p2", "p3"})
        await eventually(lambda: set(topo.ask(topo.pods["p2"], GATEWAY, 18080, 3)) == {"p1"})
        full_syncs = proxier.full_syncs

        # A pod becomes unready: the endpoints controller would move it to notReadyAddresses.
        eps = await client.get("endpoints", "web", "default")
        eps["subsets"] = [{"addresses": [{"ip": POD_IPS["p3"]}],
                           "notReadyAddresses": [{"ip": POD_IPS["p1"]}, {"ip": POD_IPS["p2"]}],
                           "ports": [{"port": APP_PORT, "protocol": "TCP"}]}]
        await client.update("endpoints", eps)
        await eventually(lambda: set(topo.ask(topo.node, vip, 80, 20)) == {"p3"})

        # No ready endpoint left: refused at once.
        eps = await client.get("endpoints", "web", "default")
        eps["subsets"] = []
        await client.update("endpoints", eps)
        await eventually(lambda: topo.ask(topo.pods["p1"], vip, 80)[0].startswith("ConnectionRefusedError"))

        # The service goes away: nothing in the node's tables mentions it any more.
        await client.delete("services", "web", "default")
        await eventually(lambda: "default/web" not in topo.save())
        assert proxier.full_syncs == full_syncs  # all of this was watch-driven
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for source in (proxier.services, proxier.endpoints, proxier.pods):
            await source.stop()
        await IptablesApplier(topo.node).cleanup()
        for plural, name in (("pods", "p1"), ("endpoints", "web"), ("services", "web")):
            try:
                await client.delete(plural, name, "default", grace_period_seconds=0)
            except Exception:  # noqa: BLE001 — already gone
                pass
