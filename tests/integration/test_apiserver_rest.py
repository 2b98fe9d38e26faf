"""The API server's REST semantics over real HTTPS: auth, bad inputs, conflicts, deletion, subresources,
Service allocation, discovery. Runs an embedded control plane on 127.0.0.1 with a free port."""
from __future__ import annotations

import asyncio
import json
import ssl

import aiohttp
import pytest

from minikube_py.client import ApiClient
from minikube_py.client.client import ApiError, Conflict, NotFound
from minikube_py.controlplane import EmbeddedControlPlane


@pytest.fixture
async def raw(cp):
    """A plain aiohttp session trusting our CA, without a token: for requests the client won't make."""
    ctx = ssl.create_default_context(cafile=str(cp.pki.ca_cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        yield s


def pod(name: str, **extra) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **extra},
            "spec": {"containers": [{"name": "c", "image": "minikube-py/busybox:1"}]}}


def svc(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name[:20]}, "ports": [{"port": 80}], **spec}}


# --- auth --------------------------------------------------------------------------------------------

async def test_anonymous_gets_only_health_and_version(cp, raw):
    for path in ("/healthz", "/readyz", "/livez"):
        async with raw.get(cp.url + path) as r:
            assert r.status == 200 and await r.text() == "ok"
    async with raw.get(cp.url + "/version") as r:
        assert r.status == 200 and (await r.json())["gitVersion"] == "v1.33.0-minikube-py"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        async with raw.get(cp.url + "/api/v1/namespaces/default/pods", headers=headers) as r:
            body = await r.json()
            assert r.status == 401 and body["kind"] == "Status" and body["reason"] == "Unauthorized"


async def test_node_token_is_accepted(cp, raw):
    async with raw.get(cp.url + "/api/v1/nodes", headers={"Authorization": f"Bearer {cp.pki.node_token}"}) as r:
        assert r.status == 200 and (await r.json())["kind"] == "NodeList"


# --- bad inputs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("plural,name,ok", [
    ("pods", "-a", False), ("pods", "A", False), ("pods", "a_b", False),
    ("pods", "a" * 254, False), ("pods", "a" * 253, True),
    ("services", "a" * 64, False), ("services", "a" * 63, True), ("services", "a.b", False),
], ids=["dash", "upper", "underscore", "pod-254", "pod-253", "svc-64", "svc-63", "svc-dot"])
async def test_names_are_validated(client, plural, name, ok):
    obj = pod(name) if plural == "pods" else svc(name)
    if ok:
        created = await client.create(plural, obj, "default")
        assert created["metadata"]["name"] == name
        await client.delete(plural, name, "default")
        return
    with pytest.raises(ApiError) as e:
        await client.create(plural, obj, "default")
    assert e.value.status == 422 and e.value.reason == "Invalid"
    assert [c["field"] for c in e.value.body["details"]["causes"]] == ["metadata.name"]
    kind = "Pod" if plural == "pods" else "Service"
    assert e.value.message.startswith(f'{kind} "{name}" is invalid: metadata.name: Invalid value: "{name}"')


async def test_uppercase_message_is_kubernetes_text(client):
    with pytest.raises(ApiError) as e:
        await client.create("pods", pod("A"), "default")
    assert e.value.message.startswith('Pod "A" is invalid: metadata.name: Invalid value: "A": a lowercase RFC 1123 '
                                      "subdomain must consist of")


async def test_body_over_3mib_is_413_and_3mib_is_not(cp, raw):
    headers = {"Authorization": f"Bearer {cp.pki.admin_token}", "Content-Type": "application/json"}
    url = cp.url + "/api/v1/namespaces/default/configmaps"
    template = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"x": ""}}
    overhead = len(json.dumps(template))
    too_big = json.dumps({**template, "data": {"x": "a" * (3 * 1024 * 1024 + 1 - overhead)}}).encode()
    assert len(too_big) == 3 * 1024 * 1024 + 1
    async with raw.post(url, data=too_big, headers=headers) as r:
        body = await r.json()
        assert r.status == 413 and body["reason"] == "RequestEntityTooLarge"
    # Also when the length is not announced (chunked upload).
    async def chunks():
        for i in range(0, len(too_big), 65536):
            yield too_big[i:i + 65536]
    async with raw.post(url, data=chunks(), headers=headers) as r:
        assert r.status == 413


@pytest.mark.parametrize("body,content_type", [
    (b"garbage{", "application/json"), (b"{\"kind\": ", "application/json"), (b"[1, 2]", "application/json"),
    (b"a: [unclosed", "application/yaml"), (b"", "application/json"),
])
async def test_garbage_is_400(cp, raw, body, content_type):
    headers = {"Authorization": f"Bearer {cp.pki.admin_token}", "Content-Type": content_type}
    async with raw.post(cp.url + "/api/v1/namespaces/default/pods", data=body, headers=headers) as r:
        status = await r.json()
        assert r.status == 400 and status["kind"] == "Status" and status["reason"] == "BadRequest"


async def test_wrong_kind_or_namespace_for_url_is_400(client):
    with pytest.raises(ApiError) as e:
        await client.request("POST", "/api/v1/namespaces/default/pods", body=svc("x"))
    assert e.value.status == 400
    with pytest.raises(ApiError) as e:
        await client.request("POST", "/api/v1/namespaces/default/pods", body=pod("x", namespace="kube-system"))
    assert e.value.status == 400 and "does not match the namespace" in e.value.message


async def test_strict_field_validation(client):
    bad = pod("strict")
    bad["spec"]["containers"][0]["imagee"] = "typo"
    with pytest.raises(ApiError) as e:
        await client.request("POST", "/api/v1/namespaces/default/pods", body=bad, params={"fieldValidation": "Strict"})
    assert e.value.status == 400 and 'unknown field "spec.containers[0].imagee"' in e.value.message
    created = await client.request("POST", "/api/v1/namespaces/default/pods", body=bad,
                                   params={"fieldValidation": "Ignore"})
    assert created["metadata"]["name"] == "strict"
    await client.delete("pods", "strict", "default", grace_period_seconds=0)


async def test_missing_namespace_and_not_found(client):
    with pytest.raises(NotFound) as e:
        await client.create("pods", pod("x"), "nowhere")
    assert e.value.message == 'namespaces "nowhere" not found'
    with pytest.raises(NotFound) as e:
        await client.get("pods", "ghost", "default")
    assert e.value.message == 'pods "ghost" not found'
    assert e.value.body["details"] == {"name": "ghost", "kind": "pods"}
    with pytest.raises(NotFound) as e:
        await client.get("deployments", "ghost", "default")
    assert e.value.message == 'deployments.apps "ghost" not found'


# --- create / update / conflicts --------------------------------------------------------------------------

async def test_server_fills_metadata_and_generate_name(client):
    created = await client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "gen-"},
                                           "spec": {"containers": [{"name": "c", "image": "x"}]}}, "default")
    meta = created["metadata"]
    assert meta["name"].startswith("gen-") and len(meta["name"]) == 9
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    assert meta["namespace"] == "default" and int(meta["resourceVersion"]) > 0
    with pytest.raises(Conflict) as e:
        await client.create("pods", {**created, "metadata": {"name": meta["name"]}}, "default")
    assert e.value.reason == "AlreadyExists" and e.value.message == f'pods "{meta["name"]}" already exists'
    await client.delete("pods", meta["name"], "default")


async def test_generation_bumps_only_on_spec_change(client):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gen"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gen"}},
                    "template": {"metadata": {"labels": {"app": "gen"}},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    d = await client.create("deployments", dep, "default")
    assert d["metadata"]["generation"] == 1
    d = await client.patch("deployments", "gen", {"metadata": {"labels": {"a": "b"}}}, "default")
    assert d["metadata"]["generation"] == 1
    d = await client.patch("deployments", "gen", {"spec": {"replicas": 2}}, "default")
    assert d["metadata"]["generation"] == 2
    # The main endpoint ignores status; the status subresource ignores everything else.
    d["status"] = {"replicas": 5}
    d["spec"]["replicas"] = 3
    d = await client.update("deployments", d)
    assert d["spec"]["replicas"] == 3 and "replicas" not in (d.get("status") or {})
    d["status"] = {"replicas": 5, "observedGeneration": 3}
    d["spec"]["replicas"] = 9
    d = await client.update_status("deployments", d)
    assert d["status"]["replicas"] == 5 and d["spec"]["replicas"] == 3 and d["metadata"]["generation"] == 3
    await client.delete("deployments", "gen", "default")


async def test_twenty_concurrent_read_modify_writes(client):
    await client.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rmw"},
                                       "data": {"writers": ""}}, "default")
    snapshot = await client.get("configmaps", "rmw", "default")

    async def rmw(i: int) -> bool:
        obj = json.loads(json.dumps(snapshot))  # everyone read the same version
        obj["data"]["writers"] += f"{i},"
        try:
            await client.update("configmaps", obj)
            return True
        except Conflict as e:
            assert e.status == 409 and e.reason == "Conflict"
            assert e.message == ('Operation cannot be fulfilled on configmaps "rmw": the object has been modified; '
                                 "please apply your changes to the latest version and try again")
            return False

    results = await asyncio.gather(*(rmw(i) for i in range(20)))
    winners = [i for i, ok in enumerate(results) if ok]
    assert len(winners) == 1
    final = await client.get("configmaps", "rmw", "default")
    assert final["data"]["writers"] == f"{winners[0]},"

    # Now each retries until it succeeds: all 20 writes are in, none lost.
    async def retry(i: int) -> int:
        losses = 0
        while True:
            obj = await client.get("configmaps", "rmw", "default")
            obj["data"]["writers"] += f"r{i},"
            try:
                await client.update("configmaps", obj)
                return losses
            except Conflict:
                losses += 1

    await asyncio.gather(*(retry(i) for i in range(20)))
    final = await client.get("configmaps", "rmw", "default")
    assert sorted(final["data"]["writers"].split(",")[1:-1]) == sorted(f"r{i}" for i in range(20))


async def test_a_write_naming_an_old_uid_never_lands_on_a_new_object_of_that_name(client):
    """Delete and create again under the same name (the guide's `kubectl delete pod counter` + apply): a
    status patch or a PUT carrying the first object's uid is a 409, and the new pod keeps its own status."""
    old = await client.create("pods", pod("reborn"), "default")
    await client.delete("pods", "reborn", "default")
    new = await client.create("pods", pod("reborn"), "default")
    old_uid, new_uid = old["metadata"]["uid"], new["metadata"]["uid"]
    assert old_uid != new_uid
    want = (f'Operation cannot be fulfilled on pods "reborn": Precondition failed: UID in precondition: '
            f"{old_uid}, UID in object meta: {new_uid}")
    with pytest.raises(Conflict) as e:
        await client.patch("pods", "reborn", {"metadata": {"uid": old_uid}, "status": {"phase": "Failed"}},
                           "default", patch_type="merge", subresource="status")
    assert e.value.status == 409 and e.value.message == want
    stale = json.loads(json.dumps(old))
    stale["metadata"].pop("resourceVersion")
    stale["metadata"]["labels"] = {"stale": "yes"}
    with pytest.raises(Conflict) as e:
        await client.update("pods", stale)
    assert e.value.message == want
    now = await client.get("pods", "reborn", "default")
    assert now["status"].get("phase") != "Failed" and "stale" not in (now["metadata"].get("labels") or {})
    # The right uid, or none, writes as before.
    await client.patch("pods", "reborn", {"metadata": {"uid": new_uid}, "status": {"phase": "Running"}},
                       "default", patch_type="merge", subresource="status")
    assert (await client.get("pods", "reborn", "default"))["status"]["phase"] == "Running"


# --- delete semantics -------------------------------------------------------------------------------------

async def test_pod_deletion_unbound_immediate_bound_graceful(client):
    await client.create("pods", pod("free"), "default")
    await client.delete("pods", "free", "default")
    with pytest.raises(NotFound):
        await client.get("pods", "free", "default")

    await client.create("pods", pod("bound"), "default")
    await client.bind("bound", "default", "node-1")
    with pytest.raises(Conflict) as e:
        await client.bind("bound", "default", "node-2")
    assert "already assigned to node" in e.value.message
    p = await client.get("pods", "bound", "default")
    assert p["spec"]["nodeName"] == "node-1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in p["status"]["conditions"])
    marked = await client.delete("pods", "bound", "default")
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (await client.get("pods", "bound", "default"))["metadata"]["deletionTimestamp"]
    # The node agent finishes it, the kubelet way.
    await client.delete("pods", "bound", "default", grace_period_seconds=0)
    with pytest.raises(NotFound):
        await client.get("pods", "bound", "default")


async def test_finalizers_hold_the_object_until_emptied(client):
    cmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fin", "finalizers": ["example.com/x"]}}
    await client.create("configmaps", cmap, "default")
    await client.delete("configmaps", "fin", "default")
    held = await client.get("configmaps", "fin", "default")
    assert held["metadata"]["deletionTimestamp"]
    await client.patch("configmaps", "fin", {"metadata": {"finalizers": None}}, "default")
    with pytest.raises(NotFound):
        await client.get("configmaps", "fin", "default")


async def test_foreground_and_orphan_add_finalizers(client):
    for policy, finalizer in (("Foreground", "foregroundDeletion"), ("Orphan", "orphan")):
        name = f"cm-{policy.lower()}"
        await client.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
                            "default")
        await client.delete("configmaps", name, "default", propagation_policy=policy)
        held = await client.get("configmaps", name, "default")
        assert held["metadata"]["finalizers"] == [finalizer] and held["metadata"]["deletionTimestamp"]
        held["metadata"]["finalizers"] = []
        await client.update("configmaps", held)  # the garbage collector's part
        with pytest.raises(NotFound):
            await client.get("configmaps", name, "default")


async def test_namespace_deletion_removes_contents(client):
    await client.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}})
    await client.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, "scratch")
    await client.create("pods", pod("p"), "scratch")
    ns = await client.delete("namespaces", "scratch")
    assert ns["status"]["phase"] == "Terminating"
    for _ in range(100):
        try:
            await client.get("namespaces", "scratch")
        except NotFound:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("namespace not deleted")
    assert (await client.list("configmaps", "scratch"))["items"] == []
    with pytest.raises(ApiError) as e:
        await client.delete("namespaces", "default")
    assert e.value.status == 403


# --- subresources -----------------------------------------------------------------------------------------

async def test_scale_subresource(client):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "scaled"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}},
                    "template": {"metadata": {"labels": {"app": "s"}},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    await client.create("deployments", dep, "default")
    scale = await client.get("deployments", "scaled", "default", subresource="scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=s"
    scale = await client.patch("deployments", "scaled", {"spec": {"replicas": 3}}, "default", subresource="scale")
    assert scale["spec"]["replicas"] == 3
    scale["spec"]["replicas"] = 4
    scale = await client.request("PUT", "/apis/apps/v1/namespaces/default/deployments/scaled/scale", body=scale)
    assert scale["spec"]["replicas"] == 4
    assert (await client.get("deployments", "scaled", "default"))["spec"]["replicas"] == 4
    await client.delete("deployments", "scaled", "default")


async def test_status_write_drops_zero_omitempty_counters(client):
    """A status PUT with 0 counters stores what Kubernetes' encoding keeps: `replicas: 0` (not omitempty)
    and no `readyReplicas`/`availableReplicas`/`fullyLabeledReplicas`, so jsonpath prints nothing for them."""
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "zeroed"},
          "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "z"}},
                   "template": {"metadata": {"labels": {"app": "z"}},
                                "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    created = await client.create("replicasets", rs, "default")
    created["status"] = {"replicas": 0, "fullyLabeledReplicas": 0, "readyReplicas": 0, "availableReplicas": 0,
                         "observedGeneration": 1}
    stored = await client.update_status("replicasets", created)
    assert stored["status"] == {"replicas": 0, "observedGeneration": 1}
    await client.delete("replicasets", "zeroed", "default")


async def test_logs_of_a_pod_not_yet_running(client):
    await client.create("pods", pod("waiting"), "default")
    with pytest.raises(ApiError) as e:
        await client.request("GET", "/api/v1/namespaces/default/pods/waiting/log")
    assert e.value.status == 400
    assert e.value.message == 'container "c" in pod "waiting" is waiting to start: ContainerCreating'
    await client.delete("pods", "waiting", "default")


# --- services -----------------------------------------------------------------------------------------------

async def test_kubernetes_service_and_endpoints_exist(client, cp):
    k = await client.get("services", "kubernetes", "default")
    assert k["spec"]["clusterIP"] == "10.96.0.1" and k["spec"]["ports"][0]["port"] == 443
    ep = await client.get("endpoints", "kubernetes", "default")
    assert ep["subsets"][0]["addresses"][0]["ip"] == "192.168.49.1"
    names = {n["metadata"]["name"] for n in (await client.list("namespaces"))["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


async def test_cluster_ip_and_node_port_allocation(client):
    a = await client.create("services", svc("alloc-a"), "default")
    ip = a["spec"]["clusterIP"]
    assert ip.startswith("10.") and ip not in ("10.96.0.1", "10.96.0.10") and a["spec"]["clusterIPs"] == [ip]
    with pytest.raises(ApiError) as e:
        await client.create("services", svc("alloc-b", clusterIP=ip), "default")
    assert e.value.status == 422
    assert e.value.body["details"]["causes"][0]["field"] == "spec.clusterIPs[0]"
    assert f'Invalid value: "{ip}": provided IP is already allocated' in e.value.message
    with pytest.raises(ApiError) as e:
        await client.create("services", svc("alloc-b", clusterIP="10.0.0.5"), "default")
    assert e.value.status == 422 and "not in the valid range" in e.value.message
    dns = await client.create("services", {**svc("kube-dns", clusterIP="10.96.0.10"),
                                           "metadata": {"name": "kube-dns", "namespace": "kube-system"}},
                              "kube-system")
    assert dns["spec"]["clusterIP"] == "10.96.0.10"
    headless = await client.create("services", svc("headless", clusterIP="None"), "default")
    assert headless["spec"]["clusterIP"] == "None"
    ext = await client.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                                           "spec": {"type": "ExternalName", "externalName": "example.com"}},
                              "default")
    assert "clusterIP" not in ext["spec"]

    np = await client.create("services", svc("np", type="NodePort",
                                              ports=[{"port": 80, "name": "a", "nodePort": 31000}, {"port": 81, "name": "b"}]),
                             "default")
    auto = np["spec"]["ports"][1]["nodePort"]
    assert np["spec"]["ports"][0]["nodePort"] == 31000 and 30000 <= auto <= 32767
    with pytest.raises(ApiError) as e:
        await client.create("services", svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": 31000}]), "default")
    assert e.value.status == 422
    assert "spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated" in e.value.message
    with pytest.raises(ApiError) as e:
        await client.create("services", svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": 40000}]), "default")
    assert e.value.status == 422
    # Type change to ClusterIP releases the node ports; delete releases the IP.
    np = await client.patch("services", "np", {"spec": {"type": "ClusterIP"}}, "default")
    assert all("nodePort" not in p for p in np["spec"]["ports"])
    np2 = await client.create("services", svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": 31000}]),
                              "default")
    assert np2["spec"]["ports"][0]["nodePort"] == 31000
    await client.delete("services", "alloc-a", "default")
    again = await client.create("services", svc("alloc-c", clusterIP=ip), "default")
    assert again["spec"]["clusterIP"] == ip
    # An update that leaves the IP out keeps it.
    again["spec"].pop("clusterIP")
    again["spec"].pop("clusterIPs")
    again = await client.update("services", again)
    assert again["spec"]["clusterIP"] == ip
    for name in ("alloc-c", "headless", "ext", "np", "np2"):
        await client.delete("services", name, "default")
    await client.delete("services", "kube-dns", "kube-system")


async def test_allocations_survive_restart(tmp_path):
    with EmbeddedControlPlane(tmp_path) as cp1:
        async with ApiClient(cp1.url, token=cp1.pki.admin_token, ca_file=cp1.pki.ca_cert) as c:
            s = await c.create("services", svc("keep", type="NodePort"), "default")
    with EmbeddedControlPlane(tmp_path) as cp2:
        async with ApiClient(cp2.url, token=cp2.pki.admin_token, ca_file=cp2.pki.ca_cert) as c:
            with pytest.raises(ApiError) as e:
                await c.create("services", svc("dup", clusterIP=s["spec"]["clusterIP"]), "default")
            assert e.value.status == 422
            with pytest.raises(ApiError) as e:
                await c.create("services", svc("dup", type="NodePort",
                                               ports=[{"port": 80, "nodePort": s["spec"]["ports"][0]["nodePort"]}]),
                               "default")
            assert e.value.status == 422


# --- discovery ------------------------------------------------------------------------------------------------

async def test_discovery_documents(client, cp, raw):
    headers = {"Authorization": f"Bearer {cp.pki.admin_token}",
               "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"}
    async with raw.get(cp.url + "/apis", headers=headers) as r:
        assert r.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        body = await r.json(content_type=None)
        assert body["kind"] == "APIGroupDiscoveryList"
        apps = next(g for g in body["items"] if g["metadata"]["name"] == "apps")
        dep = next(x for x in apps["versions"][0]["resources"] if x["resource"] == "deployments")
        scale = next(x for x in dep["subresources"] if x["subresource"] == "scale")
        assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    v1 = await client.request("GET", "/api/v1")
    names = {r["name"]: r for r in v1["resources"]}
    assert {"pods/log", "pods/exec", "pods/status", "pods/binding"} <= set(names)
    assert names["pods"]["shortNames"] == ["po"] and names["pods"]["categories"] == ["all"]
    apps = await client.request("GET", "/apis/apps/v1")
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    groups = await client.request("GET", "/apis")
    assert {g["name"] for g in groups["groups"]} == {"apps", "networking.k8s.io", "coordination.k8s.io",
                                                    "discovery.k8s.io"}
    root = await client.request("GET", "/openapi/v3")
    assert "api/v1" in root["paths"]
    doc = await client.request("GET", root["paths"]["apis/apps/v1"]["serverRelativeURL"])
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert any(p["name"] == "fieldValidation" for p in op["parameters"])


async def test_field_selectors(client):
    await client.create("pods", pod("fs-a"), "default")
    await client.create("pods", pod("fs-b"), "default")
    await client.bind("fs-b", "default", "n1")
    got = await client.list("pods", "default", field_selector="spec.nodeName=n1")
    assert [p["metadata"]["name"] for p in got["items"]] == ["fs-b"]
    got = await client.list("pods", None, field_selector="metadata.name=fs-a,metadata.namespace=default")
    assert [p["metadata"]["name"] for p in got["items"]] == ["fs-a"]
    assert got["metadata"]["resourceVersion"]
    with pytest.raises(ApiError) as e:
        await client.list("pods", "default", field_selector="spec.bogus=1")
    assert e.value.status == 400 and e.value.message == "field label not supported: spec.bogus"
    with pytest.raises(ApiError) as e:
        await client.list("pods", "default", label_selector="a in (")
    assert e.value.status == 400
    await client.delete("pods", "fs-a", "default")
    await client.delete("pods", "fs-b", "default", grace_period_seconds=0)


async def test_deletecollection_and_old_style_watch_path(client, cp):
    for i in range(3):
        await client.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": f"dc-{i}", "labels": {"batch": "x" if i < 2 else "y"}}},
                            "default")
    listing = await client.list("configmaps", "default", label_selector="batch")
    rv = listing["metadata"]["resourceVersion"]
    gone = await client.request("DELETE", "/api/v1/namespaces/default/configmaps", params={"labelSelector": "batch=x"})
    assert sorted(i["metadata"]["name"] for i in gone["items"]) == ["dc-0", "dc-1"]
    left = await client.list("configmaps", "default", label_selector="batch")
    assert [i["metadata"]["name"] for i in left["items"]] == ["dc-2"]
    # /api/v1/watch/... (the pre-1.x path some clients still use) replays the two deletions.
    async with client.session.get(f"{cp.url}/api/v1/watch/namespaces/default/configmaps",
                                  params={"resourceVersion": rv, "labelSelector": "batch=x"}) as r:
        lines = [json.loads(await r.content.readline()) for _ in range(2)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("DELETED", "dc-0"), ("DELETED", "dc-1")]
    await client.delete("configmaps", "dc-2", "default")


async def test_method_not_allowed_and_unknown_paths(client):
    with pytest.raises(ApiError) as e:
        await client.request("PUT", "/api/v1/namespaces/default/pods")
    assert e.value.status == 405
    with pytest.raises(ApiError) as e:
        await client.request("GET", "/api/v1/namespaces/default/widgets")
    assert e.value.status == 404
    with pytest.raises(ApiError) as e:
        await client.request("PATCH", "/api/v1/namespaces/default/services/kubernetes", body="{}",
                             content_type="text/plain")
    assert e.value.status == 415
