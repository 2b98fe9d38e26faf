"""Validation: the guide's objects pass; broken ones fail with Kubernetes' own words and field paths."""
import copy
from pathlib import Path

import pytest
import yaml

from minikube_py.api.defaults import apply_defaults
from minikube_py.api.resources import RESOURCES, resource_for
from minikube_py.api.validation import format_invalid_message, unknown_fields, validate

GUIDE = Path("/work/shared/guide")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _defaulted(plural, obj):
    obj = copy.deepcopy(obj)
    apply_defaults(RESOURCES[plural], obj)
    return obj


def _errors(plural, obj, old=None):
    """`field: message` strings, as they appear in the Status message."""
    causes = validate(RESOURCES[plural], _defaulted(plural, obj), _defaulted(plural, old) if old else None)
    return [f"{c['field']}: {c['message']}" for c in causes]


def _guide_objects():
    for path in sorted(GUIDE.glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text().replace("NODEIP", "192.168.49.2")):
            if doc:
                yield pytest.param(doc, id=f"{path.stem}-{doc['kind']}")


@pytest.mark.skipif(not GUIDE.exists(), reason="the shared guide manifests are not on this machine")
@pytest.mark.parametrize("obj", list(_guide_objects()) if GUIDE.exists() else [])
def test_guide_objects_are_valid_and_strict_clean(obj):
    res = resource_for(obj["apiVersion"], obj["kind"])
    obj = _defaulted(res.plural, obj)
    obj["metadata"]["namespace"] = "default"
    assert validate(res, obj) == []
    assert unknown_fields(res, obj) == []


def pod(**spec):
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "x"}], **spec}}


def container(**fields):
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "x", **fields}]}}


CASES = [
    # --- names and metadata
    ("pods", {"metadata": {"name": "A"}, "spec": pod()["spec"]},
     [f'metadata.name: Invalid value: "A": {SUBDOMAIN_MSG}']),
    ("pods", {"metadata": {}, "spec": pod()["spec"]},
     ["metadata.name: Required value: name or generateName is required"]),
    ("pods", {"metadata": {"generateName": "web-"}, "spec": pod()["spec"]}, []),
    ("pods", {"metadata": {"name": "a" * 254}, "spec": pod()["spec"]},
     [f'metadata.name: Invalid value: "{"a" * 254}": must be no more than 253 characters']),
    ("services", {"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}},
     [f'metadata.name: Invalid value: "1svc": {DNS1035_MSG}']),
    ("services", {"metadata": {"name": "s" * 64}, "spec": {"ports": [{"port": 80}]}},
     [f'metadata.name: Invalid value: "{"s" * 64}": must be no more than 63 characters']),
    ("namespaces", {"metadata": {"name": "a.b"}}, [f'metadata.name: Invalid value: "a.b": {LABEL_MSG}']),
    ("configmaps", {"metadata": {"name": "c", "labels": {"app": "bad value"}}},
     ['metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of '
      "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
      "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
    ("configmaps", {"metadata": {"name": "c", "labels": {"-bad": "x"}}},
     ['metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric characters, \'-\', \'_\' '
      "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
      "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
    ("configmaps", {"metadata": {"name": "c", "labels": {"example.com/ok": "x", "v": "x" * 64}}},
     [f'metadata.labels: Invalid value: "{"x" * 64}": must be no more than 63 characters']),
    ("configmaps", {"metadata": {"name": "c", "annotations": {"a": "x" * (256 * 1024)}}},
     ["metadata.annotations: Too long: may not be more than 262144 bytes"]),
    ("nodes", {"metadata": {"name": "n", "namespace": "default"}},
     ["metadata.namespace: Forbidden: not allowed on this type"]),
    # --- pods
    ("pods", {"metadata": {"name": "p"}, "spec": {"containers": []}}, ["spec.containers: Required value"]),
    ("pods", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "App", "image": "x"}]}},
     [f'spec.containers[0].name: Invalid value: "App": {LABEL_MSG}']),
    ("pods", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"},
                                                                 {"name": "a", "image": "y"}]}},
     ['spec.containers[1].name: Duplicate value: "a"']),
    ("pods", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}},
     ["spec.containers[0].image: Required value"]),
    ("pods", container(ports=[{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}]),
     ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
    ("pods", container(ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"},
                              {"containerPort": 82, "name": "a-very-long-port-name"}]),
     ['spec.containers[0].ports[1].name: Duplicate value: "http"',
      'spec.containers[0].ports[2].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters']),
    ("pods", container(livenessProbe={"httpGet": {"port": 80}, "tcpSocket": {"port": 80}}),
     ["spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
    ("pods", container(readinessProbe={"periodSeconds": 5}),
     ["spec.containers[0].readinessProbe: Required value: must specify a handler type"]),
    ("pods", container(livenessProbe={"httpGet": {"port": 80}, "successThreshold": 2, "initialDelaySeconds": -1}),
     ["spec.containers[0].livenessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
      "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
    ("pods", container(readinessProbe={"httpGet": {"port": 80}, "successThreshold": 2}), []),
    ("pods", container(livenessProbe={"httpGet": {"port": "8080"}}),
     ['spec.containers[0].livenessProbe.httpGet.port: Invalid value: "8080": must contain at least one letter (a-z)']),
    ("pods", pod(restartPolicy="Sometimes"),
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    ("pods", {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "logs", "mountPath": "/l"}]}],
        "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}},
                    {"name": "w"}, {"name": "z", "emptyDir": {}, "hostPath": {"path": "/x"}}]}},
     ['spec.volumes[1].name: Duplicate value: "v"',
      "spec.volumes[2]: Required value: must specify a volume type",
      "spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type",
      'spec.containers[0].volumeMounts[0].name: Not found: "logs"']),
    ("pods", container(env=[{"name": "A=B", "value": "x"}, {"value": "y"}]),
     ['spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only '
      "of printable ASCII characters other than '='",
      "spec.containers[0].env[1].name: Required value"]),
    ("pods", container(resources={"limits": {"cpu": "500m"}, "requests": {"cpu": "1", "memory": "lots"}}),
     ["spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match the regular "
      "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
      'spec.containers[0].resources.requests[cpu]: Invalid value: "1": must be less than or equal to cpu limit '
      'of 500m']),
    # --- services
    ("services", {"metadata": {"name": "s"}, "spec": {}}, ["spec.ports: Required value"]),
    ("services", {"metadata": {"name": "s"}, "spec": {"clusterIP": "None"}}, []),
    ("services", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 81}]}},
     ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
    ("services", {"metadata": {"name": "s"}, "spec": {"ports": [{"name": "a", "port": 0},
                                                               {"name": "a", "port": 81, "targetPort": 0}]}},
     ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
      'spec.ports[1].name: Duplicate value: "a"']),
    ("services", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "nodePort": 30080}]}},
     ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
    ("services", {"metadata": {"name": "s"}, "spec": {"type": "Magic", "ports": [{"port": 80}]}},
     ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
      '"NodePort"']),
    ("services", {"metadata": {"name": "s"}, "spec": {"type": "ExternalName"}},
     ["spec.externalName: Required value"]),
    ("services", {"metadata": {"name": "s"}, "spec": {"sessionAffinity": "Sticky", "ports": [{"port": 80}]}},
     ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']),
    ("services", {"metadata": {"name": "s"}, "spec": {"ports": [{"name": "a", "port": 80},
                                                               {"name": "b", "port": 80}]}},
     ['spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
      'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']),
    # --- workloads
    ("deployments", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "a"}},
        "template": {"metadata": {"labels": {"app": "b"}}, "spec": pod()["spec"]}}},
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: `selector` does not match '
      'template `labels`']),
    ("deployments", {"metadata": {"name": "d"}, "spec": {
        "template": {"metadata": {"labels": {"app": "b"}}, "spec": pod()["spec"]}}},
     ["spec.selector: Required value"]),
    ("replicasets", {"metadata": {"name": "r"}, "spec": {
        "selector": {"matchLabels": {}}, "replicas": -1,
        "template": {"metadata": {"labels": {"app": "b"}}, "spec": pod(restartPolicy="Never")["spec"]}}},
     ["spec.replicas: Invalid value: -1: must be greater than or equal to 0",
      "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    ("deployments", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "a"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "A", "image": "x"}]}}}},
     [f'spec.template.spec.containers[0].name: Invalid value: "A": {LABEL_MSG}',
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
      "may not be 0 when `maxSurge` is 0"]),
    ("deployments", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "a"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x", "maxUnavailable": "150%"}},
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod()["spec"]}}},
     ['spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"x"}: a '
      "valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used "
      "for validation is '[0-9]+%')",
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
      'StrVal:"150%"}: must not be greater than 100%']),
    ("deployments", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "a"}}, "strategy": {"type": "Blue"},
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod()["spec"]}}},
     ['spec.strategy.type: Unsupported value: "Blue": supported values: "Recreate", "RollingUpdate"']),
    # --- ingress
    ("ingresses", {"metadata": {"name": "i"}, "spec": {}},
     ["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]),
    ("ingresses", {"metadata": {"name": "i"}, "spec": {"rules": [{"host": "*.echo.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "echo", "port": {"number": 3000}}}}]}}]}},
     []),
    ("ingresses", {"metadata": {"name": "i"}, "spec": {"rules": [{"host": "10.0.0.1", "http": {"paths": [
        {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "echo", "port": {}}}},
        {"path": "/", "backend": {"service": {"name": "echo", "port": {"name": "http", "number": 80}}}},
    ]}}]}},
     ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
      'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path',
      "spec.rules[0].http.paths[0].backend.service.port: Required value: port name or number is required",
      "spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified",
      'spec.rules[0].http.paths[1].backend.service.port: Invalid value: "": cannot set both port name & port number']),
    # --- config
    ("configmaps", {"metadata": {"name": "c"}, "data": {"good.key": "x", "bad key": "y"}},
     ['data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '
      "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
      "'[-._a-zA-Z0-9]+')"]),
    ("secrets", {"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}},
     ["data[tls.key]: Required value"]),
    ("secrets", {"metadata": {"name": "s"}, "data": {"a": "not base64!"}},
     ['data[a]: Invalid value: "<secret contents redacted>": illegal base64 data']),
]


@pytest.mark.parametrize("plural,obj,want", CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_validation_messages(plural, obj, want):
    assert _errors(plural, obj) == want


UPDATE_CASES = [
    ("pods", pod(), container(image="y"), []),
    ("pods", pod(), pod(activeDeadlineSeconds=30), []),
    ("pods", pod(), container(ports=[{"containerPort": 80}]),
     ["spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
      "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
      "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
      "previously negative)"]),
    ("pods", pod(), pod(tolerations=[{"key": "k", "operator": "Exists"}]), []),
    ("services", {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}},
     {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.6", "clusterIPs": ["10.96.0.6"], "ports": [{"port": 80}]}},
     ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set']),
    ("services", {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}},
     {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 81}]}}, []),
    ("deployments",
     {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
                                          "template": {"metadata": {"labels": {"app": "a", "v": "1"}},
                                                       "spec": pod()["spec"]}}},
     {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a", "v": "1"}},
                                          "template": {"metadata": {"labels": {"app": "a", "v": "1"}},
                                                       "spec": pod()["spec"]}}},
     ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"a", "v":"1"}, '
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]),
    ("secrets", {"metadata": {"name": "s"}, "type": "Opaque"}, {"metadata": {"name": "s"}, "type": "x/y"},
     ['type: Invalid value: "x/y": field is immutable']),
    ("configmaps", {"metadata": {"name": "c"}, "immutable": True, "data": {"a": "1"}},
     {"metadata": {"name": "c"}, "immutable": True, "data": {"a": "2"}},
     ["data: Forbidden: field is immutable when `immutable` is set"]),
]


@pytest.mark.parametrize("plural,old,new,want", UPDATE_CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(UPDATE_CASES)])
def test_update_rules(plural, old, new, want):
    assert _errors(plural, new, old) == want


def test_causes_and_top_level_message():
    causes = validate(RESOURCES["pods"], _defaulted("pods", {"metadata": {"name": "A"}, "spec": pod()["spec"]}))
    assert causes == [{"reason": "FieldValueInvalid", "message": f'Invalid value: "A": {SUBDOMAIN_MSG}',
                       "field": "metadata.name"}]
    assert format_invalid_message("Pod", "A", causes) == f'Pod "A" is invalid: metadata.name: Invalid value: "A": {SUBDOMAIN_MSG}'
    two = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.a"},
           {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.b"}]
    assert (format_invalid_message("Deployment", "d", two, group="apps")
            == 'Deployment.apps "d" is invalid: [spec.a: Required value, spec.b: Required value]')


UNKNOWN_CASES = [
    ("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "foo": 1},
              "spec": {"containers": [{"name": "a", "image": "x", "imagePolicy": "Always",
                                       "livenessProbe": {"httpGet": {"port": 1, "paht": "/"}}}],
                       "volumes": [{"name": "v", "emptyDir": {"medium": "Memory"}}], "bogus": True}},
     ["metadata.foo", "spec.containers[0].imagePolicy", "spec.containers[0].livenessProbe.httpGet.paht", "spec.bogus"]),
    ("deployments", {"spec": {"replica": 3, "template": {"spec": {"containers": [{"name": "a", "port": 80}]}}}},
     ["spec.replica", "spec.template.spec.containers[0].port"]),
    ("services", {"spec": {"ports": [{"port": 80, "target": 1}], "selector": {"any": "thing"}}},
     ["spec.ports[0].target"]),
    ("configmaps", {"data": {"x": "y"}, "datas": {}}, ["datas"]),
    ("nodes", {"spec": {"anything": 1}, "status": {"whatever": 2}}, []),
    ("ingresses", {"spec": {"rules": [{"host": "h", "http": {"paths": [{"path": "/", "pathtype": "Prefix"}]}}]}},
     ["spec.rules[0].http.paths[0].pathtype"]),
]


@pytest.mark.parametrize("plural,obj,want", UNKNOWN_CASES, ids=[c[0] for c in UNKNOWN_CASES])
def test_unknown_fields(plural, obj, want):
    assert unknown_fields(RESOURCES[plural], obj) == want
