"""The official `kubernetes` Python client against our API server: create, list, patch (merge and
strategic), watch and delete pods, services and deployments, over HTTPS with our CA and token."""
from __future__ import annotations

import threading

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module")
def api(cp, tmp_path_factory):
    kubeconfig = cp.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
    api_client = k8s_config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield api_client
    finally:
        api_client.close()


def test_pods_create_list_patch_watch_delete(api):
    core = k8s.CoreV1Api(api)
    pod = k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="web", labels={"app": "web"}),
                    spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="minikube-py/nginx:1",
                                                                   ports=[k8s.V1ContainerPort(container_port=80)])]))
    created = core.create_namespaced_pod("default", pod)
    assert created.metadata.uid and created.status.phase == "Pending"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"

    listed = core.list_namespaced_pod("default", label_selector="app=web")
    assert [p.metadata.name for p in listed.items] == ["web"]
    assert listed.metadata.resource_version

    patched = core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"app": "web", "tier": "front"}

    # Watch from the list's resourceVersion while another thread changes and deletes the pod.
    w = k8s_watch.Watch()
    seen: list[tuple[str, str]] = []

    def change():
        core.patch_namespaced_pod("web", "default", {"metadata": {"annotations": {"a": "b"}}})
        core.delete_namespaced_pod("web", "default")

    rv = core.list_namespaced_pod("default").metadata.resource_version
    t = threading.Timer(0.3, change)
    t.start()
    for event in w.stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=10):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            w.stop()
    t.join()
    assert seen == [("MODIFIED", "web"), ("DELETED", "web")]
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("web", "default")
    assert e.value.status == 404


def test_services(api):
    core = k8s.CoreV1Api(api)
    svc = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="redis"),
                        spec=k8s.V1ServiceSpec(selector={"app": "counter", "tier": "db"},
                                               ports=[k8s.V1ServicePort(port=6379)]))
    created = core.create_namespaced_service("default", svc)
    assert created.spec.cluster_ip.startswith("10.") and created.spec.type == "ClusterIP"
    assert created.spec.ports[0].target_port == 6379
    names = [s.metadata.name for s in core.list_namespaced_service("default").items]
    assert names == ["kubernetes", "redis"]
    # Strategic merge: ports merge by `port`.
    patched = core.patch_namespaced_service("redis", "default", {"spec": {"ports": [{"port": 6380, "name": "b"},
                                                                                     {"port": 6379, "name": "a"}]}})
    assert sorted(p.port for p in patched.spec.ports) == [6379, 6380]
    with pytest.raises(ApiException) as e:
        core.create_namespaced_service("default", svc)
    assert e.value.status == 409
    core.delete_namespaced_service("redis", "default")
    assert [s.metadata.name for s in core.list_namespaced_service("default").items] == ["kubernetes"]


def test_deployments_merge_and_strategic_patch_scale_watch(api):
    apps = k8s.AppsV1Api(api)
    dep = k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name="echo"),
        spec=k8s.V1DeploymentSpec(
            replicas=2, selector=k8s.V1LabelSelector(match_labels={"app": "echo"}),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels={"app": "echo"}),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="echo", image="minikube-py/echo:v1",
                                                               env=[k8s.V1EnvVar(name="A", value="1")])]))))
    created = apps.create_namespaced_deployment("default", dep)
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.metadata.generation == 1

    # Strategic merge patch (the client's default for dicts on patch_*): containers merge by name.
    patched = apps.patch_namespaced_deployment("echo", "default", {"spec": {"template": {"spec": {"containers": [
        {"name": "echo", "image": "minikube-py/echo:v2", "env": [{"name": "B", "value": "2"}]}]}}}})
    c = patched.spec.template.spec.containers[0]
    assert c.image == "minikube-py/echo:v2" and sorted(e.name for e in c.env) == ["A", "B"]
    assert patched.metadata.generation == 2

    # Merge patch, chosen explicitly.
    merged = apps.patch_namespaced_deployment("echo", "default", {"metadata": {"labels": {"merged": "yes"}}},
                                              _content_type="application/merge-patch+json")
    assert merged.metadata.labels == {"merged": "yes"}

    scale = apps.patch_namespaced_deployment_scale("echo", "default", {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    assert apps.read_namespaced_deployment_scale("echo", "default").spec.replicas == 5

    status = apps.read_namespaced_deployment_status("echo", "default")
    status.status = k8s.V1DeploymentStatus(replicas=5, observed_generation=3)
    apps.replace_namespaced_deployment_status("echo", "default", status)
    assert apps.read_namespaced_deployment("echo", "default").status.replicas == 5

    w = k8s_watch.Watch()
    events = []
    for event in w.stream(apps.list_namespaced_deployment, "default", timeout_seconds=5):
        events.append((event["type"], event["object"].metadata.name))
        w.stop()
    assert events == [("ADDED", "echo")]

    apps.delete_namespaced_deployment("echo", "default", propagation_policy="Background")
    assert apps.list_namespaced_deployment("default").items == []


def test_conflict_on_stale_replace(api):
    core = k8s.CoreV1Api(api)
    cm = core.create_namespaced_config_map("default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cc"),
                                                                      data={"a": "1"}))
    cm.data = {"a": "2"}
    core.replace_namespaced_config_map("cc", "default", cm)
    cm.data = {"a": "3"}
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("cc", "default", cm)
    assert e.value.status == 409
    assert "the object has been modified; please apply your changes to the latest version" in e.value.body
    core.delete_namespaced_config_map("cc", "default")


def test_list_chunks_are_one_consistent_snapshot(api, cp):
    """`limit` / `_continue` with the official client: every page is the state at the first page's
    resourceVersion, even when objects are added, changed and deleted between pages."""
    core = k8s.CoreV1Api(api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="chunks")))
    for i in range(7):
        core.create_namespaced_config_map("chunks", k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name=f"cm{i}"), data={"v": "old"}))

    first = core.list_namespaced_config_map("chunks", limit=3)
    assert [c.metadata.name for c in first.items] == ["cm0", "cm1", "cm2"]
    assert first.metadata._continue and first.metadata.remaining_item_count == 4

    core.delete_namespaced_config_map("cm4", "chunks")                       # not seen: still in the snapshot
    core.patch_namespaced_config_map("cm5", "chunks", {"data": {"v": "new"}})  # seen with its old data
    core.create_namespaced_config_map("chunks", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="cm3a")))

    second = core.list_namespaced_config_map("chunks", limit=3, _continue=first.metadata._continue)
    third = core.list_namespaced_config_map("chunks", limit=3, _continue=second.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["cm3", "cm4", "cm5"]
    assert second.items[2].data == {"v": "old"}
    assert [c.metadata.name for c in third.items] == ["cm6"] and not third.metadata._continue
    assert second.metadata.resource_version == first.metadata.resource_version

    now = core.list_namespaced_config_map("chunks")
    assert [c.metadata.name for c in now.items] == ["cm0", "cm1", "cm2", "cm3", "cm3a", "cm5", "cm6"]

    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("chunks", limit=3, _continue="garbage")
    assert err.value.status == 400 and "continue key is not valid" in err.value.body
    core.delete_namespace("chunks")


def test_managed_fields_and_apply_need_a_field_manager(api):
    """The official client sees who set what, and an apply without `field_manager` is a 400."""
    core = k8s.CoreV1Api(api)
    core.create_namespaced_config_map("default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="owned"),
                                                                 data={"a": "1"}), field_manager="tester")
    cm = core.read_namespaced_config_map("owned", "default")
    [entry] = cm.metadata.managed_fields
    assert (entry.manager, entry.operation, entry.api_version) == ("tester", "Update", "v1")
    assert entry.fields_v1 == {"f:data": {"f:a": {}}}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("owned", "default", {"apiVersion": "v1", "kind": "ConfigMap",
                                                              "metadata": {"name": "owned"}},
                                         _content_type="application/apply-patch+yaml")
    assert err.value.status == 400 and "fieldManager is required" in err.value.body
    core.delete_namespaced_config_map("owned", "default")
