"""Defaulting: the guide's objects come out as a real cluster's `kubectl get -o yaml` shows them."""
import copy
from datetime import datetime, timezone

import pytest
import yaml

from minikube_py.api.defaults import apply_defaults, image_pull_policy_for, qos_class
from minikube_py.api.resources import RESOURCES

ECHO_LP = yaml.safe_load("""
apiVersion: v1
kind: Pod
metadata: {name: echo-lp, labels: {app: echo}}
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
      livenessProbe:
        httpGet: {path: /not/exist, port: 8080}
        initialDelaySeconds: 5
        timeoutSeconds: 2
        periodSeconds: 5
        failureThreshold: 1
""")


def test_pod_defaults_match_a_real_cluster():
    pod = copy.deepcopy(ECHO_LP)
    apply_defaults(RESOURCES["pods"], pod)
    assert pod["spec"] == {
        "containers": [{
            "name": "app",
            "image": "ghcr.io/subicura/echo:v1",
            "imagePullPolicy": "IfNotPresent",
            "livenessProbe": {
                "httpGet": {"path": "/not/exist", "port": 8080, "scheme": "HTTP"},
                "initialDelaySeconds": 5, "timeoutSeconds": 2, "periodSeconds": 5,
                "failureThreshold": 1, "successThreshold": 1,
            },
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "tolerationSeconds": 300},
        ],
    }
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_probe_defaults_and_container_extras():
    pod = {"spec": {"containers": [{
        "name": "c", "image": "redis",
        "readinessProbe": {"httpGet": {"port": 80}},
        "startupProbe": {"tcpSocket": {"port": 80}},
        "ports": [{"containerPort": 6379}],
        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
    }], "volumes": [{"name": "cfg", "configMap": {"name": "x"}}, {"name": "d", "emptyDir": {}}]}}
    apply_defaults(RESOURCES["pods"], pod)
    c = pod["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert c["startupProbe"]["periodSeconds"] == 10
    assert c["ports"] == [{"containerPort": 6379, "protocol": "TCP"}]
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert pod["spec"]["volumes"] == [{"name": "cfg", "configMap": {"name": "x", "defaultMode": 420}},
                                      {"name": "d", "emptyDir": {}}]
    assert pod["status"]["qosClass"] == "Guaranteed"


@pytest.mark.parametrize("image,policy", [
    ("redis", "Always"),
    ("redis:latest", "Always"),
    ("ghcr.io/subicura/counter:latest", "Always"),
    ("minikube-py/echo:v1", "IfNotPresent"),
    ("localhost:5000/app", "Always"),
    ("localhost:5000/app:1.0", "IfNotPresent"),
    ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy(image, policy):
    assert image_pull_policy_for(image) == policy


def test_explicit_values_are_kept():
    pod = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1", "imagePullPolicy": "Never"}]}}
    apply_defaults(RESOURCES["pods"], pod)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"


@pytest.mark.parametrize("resources,qos", [
    ([{}], "BestEffort"),
    ([{"requests": {"cpu": "100m"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
])
def test_qos_class(resources, qos):
    assert qos_class({"containers": [{"resources": r} for r in resources]}) == qos


def test_deployment_defaults_and_template():
    d = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: counter}
spec:
  selector: {matchLabels: {app: counter, tier: app}}
  template:
    metadata: {labels: {app: counter, tier: app}}
    spec:
      containers:
        - name: counter
          image: ghcr.io/subicura/counter:latest
          env: [{name: REDIS_HOST, value: redis}]
""")
    apply_defaults(RESOURCES["deployments"], d)
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    tpl = spec["template"]["spec"]
    assert tpl["restartPolicy"] == "Always" and tpl["dnsPolicy"] == "ClusterFirst"
    assert tpl["containers"][0]["imagePullPolicy"] == "Always"
    # admission-plugin fields belong to pods, not templates
    assert "tolerations" not in tpl and "enableServiceLinks" not in tpl


def test_deployment_keeps_given_strategy():
    d = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3}}}}
    apply_defaults(RESOURCES["deployments"], d)
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 3, "maxUnavailable": "25%"}
    r = {"spec": {"strategy": {"type": "Recreate"}}}
    apply_defaults(RESOURCES["deployments"], r)
    assert r["spec"]["strategy"] == {"type": "Recreate"}


def test_replicaset_defaults():
    rs = {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    apply_defaults(RESOURCES["replicasets"], rs)
    assert rs["spec"]["replicas"] == 1
    assert rs["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler"
    # Kubernetes 1.33 serialises the template's zero creationTimestamp as an explicit null (1.34 omits it).
    assert rs["spec"]["template"]["metadata"] == {"creationTimestamp": None}
    labelled = {"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}}
    apply_defaults(RESOURCES["deployments"], labelled)
    assert labelled["spec"]["template"]["metadata"] == {"labels": {"a": "b"}, "creationTimestamp": None}


SERVICE_CASES = [
    ({"ports": [{"port": 6379}], "selector": {"app": "x"}},
     {"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"port": 6379, "protocol": "TCP", "targetPort": 6379}],
      "selector": {"app": "x"}, "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
      "ipFamilyPolicy": "SingleStack"}),
    ({"type": "NodePort", "ports": [{"port": 3000, "nodePort": 31000, "protocol": "TCP"}]},
     {"type": "NodePort", "sessionAffinity": "None", "ports": [{"port": 3000, "nodePort": 31000, "protocol": "TCP",
                                                                "targetPort": 3000}],
      "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
      "externalTrafficPolicy": "Cluster"}),
    ({"type": "LoadBalancer", "ports": [{"port": 30000, "targetPort": 3000}]},
     {"type": "LoadBalancer", "sessionAffinity": "None", "ports": [{"port": 30000, "protocol": "TCP", "targetPort": 3000}],
      "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
      "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True}),
    ({"type": "ExternalName", "externalName": "example.com"},
     {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}),
    ({"ports": [{"port": 80, "targetPort": "http"}]},
     {"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}],
      "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}),
]


@pytest.mark.parametrize("spec,want", SERVICE_CASES, ids=["clusterip", "nodeport", "lb", "externalname", "named"])
def test_service_defaults(spec, want):
    svc = {"spec": spec}
    apply_defaults(RESOURCES["services"], svc)
    assert svc["spec"] == want
    assert svc["status"] == {"loadBalancer": {}}


def test_secret_namespace_endpoints_event():
    s = {"metadata": {"name": "s"}, "stringData": {"user": "admin"}, "data": {"x": "eQ=="}}
    apply_defaults(RESOURCES["secrets"], s)
    assert s == {"metadata": {"name": "s"}, "type": "Opaque", "data": {"x": "eQ==", "user": "YWRtaW4="}}

    ns = {"metadata": {"name": "dev"}}
    apply_defaults(RESOURCES["namespaces"], ns)
    assert ns == {"metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "dev"}},
                  "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}

    ep = {"subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 6379}]}]}
    apply_defaults(RESOURCES["endpoints"], ep)
    assert ep["subsets"][0]["ports"] == [{"port": 6379, "protocol": "TCP"}]

    now = datetime(2026, 1, 1, 0, 0, 5, tzinfo=timezone.utc)
    ev = {"reason": "Pulled"}
    apply_defaults(RESOURCES["events"], ev, now=now)
    assert ev == {"reason": "Pulled", "type": "Normal", "count": 1,
                  "firstTimestamp": "2026-01-01T00:00:05Z", "lastTimestamp": "2026-01-01T00:00:05Z"}


IDEMPOTENT = [
    ("pods", ECHO_LP),
    ("services", {"spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}}),
    ("deployments", {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "b"}]}}}}),
    ("replicasets", {"spec": {}}),
    ("secrets", {"stringData": {"a": "b"}}),
    ("namespaces", {"metadata": {"name": "x"}}),
    ("configmaps", {"data": {"a": "b"}}),
    ("ingresses", {"spec": {}}),
    ("nodes", {"metadata": {"name": "n"}}),
]


@pytest.mark.parametrize("plural,obj", IDEMPOTENT, ids=[c[0] for c in IDEMPOTENT])
def test_defaulting_twice_changes_nothing(plural, obj):
    once = copy.deepcopy(obj)
    apply_defaults(RESOURCES[plural], once)
    twice = copy.deepcopy(once)
    apply_defaults(RESOURCES[plural], twice)
    assert twice == once


@pytest.mark.parametrize("plural", ["pods", "replicasets", "services", "configmaps"])
def test_empty_omitempty_metadata_is_dropped(plural):
    """A released pod (last ownerReference deleted) or a last label removed: the field is absent, as Go's
    omitempty serialises it; non-empty values and other fields stay."""
    obj = {"metadata": {"name": "x", "namespace": "default", "ownerReferences": [], "labels": {},
                        "annotations": {}, "finalizers": []}}
    apply_defaults(RESOURCES[plural], obj)
    assert not {"ownerReferences", "labels", "annotations", "finalizers"} & set(obj["metadata"])
    kept = {"metadata": {"name": "x", "labels": {"a": "b"}, "finalizers": ["f"],
                         "ownerReferences": [{"uid": "u", "kind": "ReplicaSet", "name": "rs", "apiVersion": "apps/v1"}]}}
    apply_defaults(RESOURCES[plural], kept)
    assert kept["metadata"]["labels"] == {"a": "b"} and kept["metadata"]["finalizers"] == ["f"]
    assert len(kept["metadata"]["ownerReferences"]) == 1


def test_zero_omitempty_status_counters_are_dropped():
    """A ReplicaSet scaled to 0 serialises as `{observedGeneration, replicas: 0}` in Kubernetes (its other
    counters are `omitempty` int32s; `replicas` is not), a Deployment status drops every 0 counter."""
    rs = {"metadata": {"name": "old"}, "spec": {"replicas": 0},
          "status": {"replicas": 0, "fullyLabeledReplicas": 0, "readyReplicas": 0, "availableReplicas": 0,
                     "observedGeneration": 5}}
    apply_defaults(RESOURCES["replicasets"], rs)
    assert rs["status"] == {"replicas": 0, "observedGeneration": 5}
    d = {"metadata": {"name": "d"}, "spec": {"replicas": 2},
         "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 0,
                    "availableReplicas": 0, "unavailableReplicas": 2, "conditions": []}}
    apply_defaults(RESOURCES["deployments"], d)
    assert d["status"] == {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                           "unavailableReplicas": 2, "conditions": []}
