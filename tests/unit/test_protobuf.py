"""Kubernetes protobuf request bodies → JSON dicts: wire format, each message shape, kubectl's own bytes.

The golden files in golden/protobuf are bodies the real kubectl v1.33 POSTed (`<name>.pb`, captured at
the server) next to the JSON the same command prints with `--dry-run=client -o json` (`<name>.json`,
nulls dropped): decoding the first must give the second."""
from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest

from minikube_py.api import protobuf, protobuf_gen, protobuf_schema
from minikube_py.api.errors import ApiError
from minikube_py.api.protobuf import ProtobufError, UnknownKind, decode_object
from minikube_py.api.server import decode_object as server_decode
from minikube_py.kubectl import kubectl_path

GOLDEN = Path(__file__).parent / "golden" / "protobuf"
PB = "application/vnd.kubernetes.protobuf"


# --- a tiny encoder for hand-built bodies --------------------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative numbers as 10-byte two's complement, like Go's encoder
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f(number: int, value: int | bool | str | bytes) -> bytes:
    """One field: ints/bools as varints, str/bytes length-delimited (messages are bytes)."""
    if isinstance(value, (bool, int)):
        return varint(number << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def msg(*fields: bytes) -> bytes:
    return b"".join(fields)


def entry(key: str, value: str | bytes) -> bytes:
    return msg(f(1, key), f(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + msg(f(1, msg(f(1, api_version), f(2, kind))), f(2, raw), f(3, ""), f(4, ""))


def meta(name: str = "x", **more: bytes) -> bytes:
    # What Go writes for a fresh ObjectMeta: every non-pointer field, zero or not, and an empty Time.
    return msg(f(1, name), f(2, ""), f(3, ""), f(4, ""), f(5, ""), f(6, ""), f(7, 0), f(8, b""),
               *more.values())


def intstr_int(n: int) -> bytes:
    return msg(f(1, 0), f(2, n), f(3, ""))


def intstr_str(s: str) -> bytes:
    return msg(f(1, 1), f(2, 0), f(3, s))


# --- wire format -----------------------------------------------------------------------------------

def test_varints_signed_and_zigzag():
    assert protobuf.read_varint(varint(300), 0) == (300, 2)
    assert len(varint(-1)) == 10
    assert protobuf.decode_fields(f(1, -5), {1: ("n", "int32")}) == {"n": -5}
    assert protobuf.decode_fields(f(1, -5), {1: ("n", "int64")}) == {"n": -5}
    assert protobuf.decode_fields(f(1, 9), {1: ("n", "sint32")}) == {"n": -5}
    assert protobuf.decode_fields(f(1, 1 << 40), {1: ("n", "int64")}) == {"n": 1 << 40}


def test_fixed_width_and_packed_repeated():
    buf = varint(1 << 3 | 5) + struct.pack("<i", -7) + varint(2 << 3 | 1) + struct.pack("<d", 1.5)
    assert protobuf.decode_fields(buf, {1: ("a", "sfixed32"), 2: ("b", "double")}) == {"a": -7, "b": 1.5}
    packed = f(3, varint(1) + varint(2) + varint(300))
    unpacked = f(3, 4) + f(3, 0)
    assert protobuf.decode_fields(packed + unpacked, {3: ("xs", "[]int32")}) == {"xs": [1, 2, 300, 4, 0]}


def test_map_entries_with_absent_key_or_value_are_zero():
    buf = f(1, f(1, "k")) + f(1, f(2, "v")) + f(2, f(1, "cpu"))
    table = {1: ("m", "map:string"), 2: ("q", "map:api.resource.Quantity")}
    assert protobuf.decode_fields(buf, table) == {"m": {"k": "", "": "v"}, "q": {"cpu": "0"}}
    assert protobuf.decode_fields(f(1, f(1, "n")), {1: ("m", "map:fixed32")}) == {"m": {"n": 0}}


def test_unknown_fields_are_skipped_of_every_wire_type():
    buf = f(9, 5) + f(10, "junk") + varint(11 << 3 | 5) + b"\0\0\0\0" + varint(12 << 3 | 1) + b"\0" * 8 + f(1, "n")
    assert protobuf.decode_fields(buf, {1: ("name", "string")}) == {"name": "n"}


@pytest.mark.parametrize("buf", [b"\x0a\x05ab", b"\x08\xff", b"\x0b", b"\x00\x01", b"\x0d\x00"])
def test_malformed_wire_is_an_error(buf):
    with pytest.raises(ProtobufError):
        protobuf.decode_fields(buf, {1: ("name", "string")})


def test_wrong_wire_type_for_a_known_field_is_an_error():
    with pytest.raises(ProtobufError):
        protobuf.decode_fields(f(1, 5), {1: ("name", "string")})


# --- envelope --------------------------------------------------------------------------------------

def test_envelope_needs_magic_kind_and_no_encoding():
    with pytest.raises(ProtobufError, match="prefix"):
        decode_object(b'{"kind":"Namespace"}')
    with pytest.raises(ProtobufError, match="no kind"):
        decode_object(b"k8s\x00" + f(2, b""))
    body = b"k8s\x00" + msg(f(1, msg(f(1, "v1"), f(2, "Namespace"))), f(2, b""), f(3, "gzip"))
    with pytest.raises(ProtobufError, match="gzip"):
        decode_object(body)


def test_unknown_kind():
    with pytest.raises(UnknownKind) as e:
        decode_object(envelope("batch/v1", "Job", msg(f(1, meta("j")))))
    assert (e.value.api_version, e.value.kind) == ("batch/v1", "Job")


def test_server_answers_415_naming_the_kind():
    with pytest.raises(ApiError) as e:
        server_decode(envelope("batch/v1", "Job", msg(f(1, meta("j")))), PB)
    assert e.value.code == 415 and "Job (batch/v1)" in e.value.message and "no protobuf schema" in e.value.message
    with pytest.raises(ApiError) as e:
        server_decode(envelope("v1", "ConfigMap", b"\x0a\x09trunc"), PB + "; charset=x")
    assert e.value.code == 415 and "ConfigMap" in e.value.message and "truncated" in e.value.message
    assert server_decode(envelope("v1", "Namespace", msg(f(1, meta("ns")))), PB) == \
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}


# --- each message shape, hand-built ----------------------------------------------------------------

def test_object_meta_every_field():
    owner = msg(f(1, "Deployment"), f(3, "web"), f(4, "uid-1"), f(5, "apps/v1"), f(6, True), f(7, False))
    managed = msg(f(1, "kubectl"), f(2, "Update"), f(3, "v1"), f(6, "FieldsV1"),
                  f(7, f(1, b'{"f:data":{}}')), f(4, msg(f(1, 1767225600), f(2, 0))))
    raw = msg(f(1, meta(
        "x", generateName=f(2, "x-"), namespace=f(3, "ns"), uid=f(5, "u"), rv=f(6, "42"), gen=f(7, 3),
        created=f(8, msg(f(1, 1767225600), f(2, 0))), deleted=f(9, msg(f(1, 1767225630))),
        grace=f(10, 0), labels=f(11, entry("app", "web")), ann=f(12, entry("a/b", "")),
        owners=f(13, owner), fin=f(14, "kubernetes") + f(14, "foo/bar"), managed=f(17, managed))))
    obj = decode_object(envelope("v1", "ConfigMap", raw))
    assert obj["metadata"] == {
        "name": "x", "generateName": "x-", "namespace": "ns", "uid": "u", "resourceVersion": "42",
        "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z", "deletionTimestamp": "2026-01-01T00:00:30Z",
        "deletionGracePeriodSeconds": 0, "labels": {"app": "web"}, "annotations": {"a/b": ""},
        "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "uid-1", "apiVersion": "apps/v1",
                             "controller": True, "blockOwnerDeletion": False}],
        "finalizers": ["kubernetes", "foo/bar"],
        "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                           "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:data": {}}}],
    }


def test_namespace():
    raw = msg(f(1, meta("dev")), f(2, msg(f(1, "kubernetes"))), f(3, msg(f(1, ""))))
    assert decode_object(envelope("v1", "Namespace", raw)) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"},
        "spec": {"finalizers": ["kubernetes"]}, "status": {}}


def test_configmap_data_binary_data_and_immutable_false():
    raw = msg(f(1, meta("cm")), f(2, entry("a", "1")), f(2, entry("b", "")), f(3, entry("bin", b"\xff\x00")),
              f(4, False))
    assert decode_object(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1", "b": ""},
        "binaryData": {"bin": base64.b64encode(b"\xff\x00").decode()}, "immutable": False}


def test_secret_data_is_base64_and_string_data_is_text():
    raw = msg(f(1, meta("s")), f(2, entry("pw", b"s3cr3t")), f(3, "Opaque"), f(4, entry("plain", "t")),
              f(5, True))
    assert decode_object(envelope("v1", "Secret", raw)) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"pw": base64.b64encode(b"s3cr3t").decode()}, "type": "Opaque", "stringData": {"plain": "t"},
        "immutable": True}


def test_service_ports_target_port_int_or_string_and_spec():
    port1 = msg(f(1, "http"), f(2, "TCP"), f(3, 80), f(4, intstr_int(3000)), f(5, 0), f(6, "http"))
    port2 = msg(f(1, "dns"), f(2, "UDP"), f(3, 53), f(4, intstr_str("dns")), f(5, 30053))
    port3 = msg(f(1, ""), f(2, "TCP"), f(3, 0), f(4, intstr_int(0)), f(5, 0))  # port 0 is kept: invalid
    affinity = msg(f(1, msg(f(1, 600))))
    spec = msg(f(1, port1), f(1, port2), f(1, port3), f(2, entry("app", "web")), f(3, "None"), f(4, "NodePort"),
               f(5, "1.2.3.4"), f(7, "ClientIP"), f(10, "ext.example"), f(11, "Local"), f(12, 0), f(13, False),
               f(14, affinity), f(20, True))
    raw = msg(f(1, meta("svc")), f(2, spec), f(3, msg(f(1, b""))))
    assert decode_object(envelope("v1", "Service", raw)) == {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
        "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 3000, "appProtocol": "http"},
                           {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": "dns", "nodePort": 30053},
                           {"protocol": "TCP", "port": 0}],
                 "selector": {"app": "web"}, "clusterIP": "None", "type": "NodePort", "externalIPs": ["1.2.3.4"],
                 "sessionAffinity": "ClientIP", "externalName": "ext.example", "externalTrafficPolicy": "Local",
                 "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
                 "allocateLoadBalancerNodePorts": True},
        "status": {"loadBalancer": {}}}


def container(name: str = "c", *more: bytes) -> bytes:
    return msg(f(1, name), f(2, "img:1"), *more, f(13, "/dev/termination-log"), f(14, "IfNotPresent"),
               f(16, False), f(17, False), f(18, False), f(20, "File"))


def test_pod_spec_containers_probes_resources_volumes_security():
    http_get = msg(f(1, "/healthz"), f(2, intstr_str("http")), f(3, ""), f(4, "HTTP"),
                   f(5, msg(f(1, "X-A"), f(2, "b"))))
    probe = msg(f(1, msg(f(2, http_get))), f(2, 5), f(3, 1), f(4, 10), f(5, 1), f(6, 3))
    exec_probe = msg(f(1, msg(f(1, msg(f(1, "cat"), f(1, "/tmp/ok"))))), f(2, 0))
    tcp_probe = msg(f(1, msg(f(3, msg(f(1, intstr_int(6379)), f(2, ""))))))
    qty = lambda s: msg(f(1, s))  # noqa: E731
    resources = msg(f(1, entry("cpu", qty("500m"))), f(1, entry("memory", qty("128Mi"))),
                    f(2, entry("cpu", qty("100m"))))
    env_from_field = msg(f(1, "POD_IP"), f(2, ""), f(3, msg(f(1, msg(f(1, "v1"), f(2, "status.podIP"))))))
    env_from_cm = msg(f(1, "K"), f(3, msg(f(3, msg(f(1, msg(f(1, "cm"))), f(2, "key"), f(3, False))))))
    c = container("web", f(3, "sh"), f(3, "-c"), f(4, "echo hi"), f(5, "/app"),
                  f(6, msg(f(1, "http"), f(2, 0), f(3, 3000), f(4, "TCP"), f(5, ""))),
                  f(7, msg(f(1, "A"), f(2, "1"))), f(7, env_from_field), f(7, env_from_cm),
                  f(8, resources), f(9, msg(f(1, "data"), f(2, True), f(3, "/data"), f(4, ""))),
                  f(10, probe), f(11, exec_probe), f(22, tcp_probe),
                  f(15, msg(f(4, 0), f(2, False), f(7, False))))
    cm_volume = msg(f(1, "cfg"), f(2, msg(f(19, msg(f(1, msg(f(1, "app-config"))), f(2, msg(f(1, "k"), f(2, "k.txt"))),
                                                     f(3, 0o644))))))
    empty_dir = msg(f(1, "data"), f(2, msg(f(2, msg(f(1, "Memory"), f(2, msg(f(1, "64Mi"))))))))
    secret_vol = msg(f(1, "sec"), f(2, msg(f(6, msg(f(1, "s1"), f(4, True))))))
    host_path = msg(f(1, "host"), f(2, msg(f(1, msg(f(1, "/var/log"), f(2, "Directory"))))))
    spec = msg(f(1, cm_volume), f(1, empty_dir), f(1, secret_vol), f(1, host_path), f(2, c), f(3, "Always"),
               f(4, 0), f(6, "ClusterFirst"), f(7, entry("kubernetes.io/os", "linux")), f(8, "sa"), f(10, "node-1"),
               f(14, msg(f(2, 0), f(5, 1000))), f(21, False), f(20, container("init")))
    raw = msg(f(1, meta("p")), f(2, spec))
    obj = decode_object(envelope("v1", "Pod", raw))
    s = obj["spec"]
    assert s["volumes"] == [
        {"name": "cfg", "configMap": {"name": "app-config", "items": [{"key": "k", "path": "k.txt"}],
                                      "defaultMode": 0o644}},
        {"name": "data", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "sec", "secret": {"secretName": "s1", "optional": True}},
        {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
    ]
    assert s["restartPolicy"] == "Always" and s["terminationGracePeriodSeconds"] == 0
    assert s["dnsPolicy"] == "ClusterFirst" and s["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert s["serviceAccountName"] == "sa" and s["nodeName"] == "node-1"
    assert s["securityContext"] == {"runAsUser": 0, "fsGroup": 1000}  # runAsUser 0 (root) is meaningful
    assert s["automountServiceAccountToken"] is False
    assert s["initContainers"] == [{"name": "init", "image": "img:1", "terminationMessagePath": "/dev/termination-log",
                                    "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File"}]
    (ctr,) = s["containers"]
    assert ctr == {
        "name": "web", "image": "img:1", "command": ["sh", "-c"], "args": ["echo hi"], "workingDir": "/app",
        "ports": [{"name": "http", "containerPort": 3000, "protocol": "TCP"}],
        "env": [{"name": "A", "value": "1"},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "key", "optional": False}}}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
        "volumeMounts": [{"name": "data", "readOnly": True, "mountPath": "/data"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
                                      "httpHeaders": [{"name": "X-A", "value": "b"}]},
                          "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10,
                          "successThreshold": 1, "failureThreshold": 3},
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ok"]}},
        "startupProbe": {"tcpSocket": {"port": 6379}},
        "securityContext": {"runAsUser": 0, "privileged": False, "allowPrivilegeEscalation": False},
        "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent",
        "terminationMessagePolicy": "File",
    }


def pod_template(labels: bytes) -> bytes:
    return msg(f(1, meta("", labels=labels)), f(2, msg(f(2, container("c")))))


def test_deployment_replicas_zero_selector_strategy():
    selector = msg(f(1, entry("app", "web")),
                   f(2, msg(f(1, "tier"), f(2, "In"), f(3, "a"), f(3, "b"))))
    strategy = msg(f(1, "RollingUpdate"), f(2, msg(f(1, intstr_int(0)), f(2, intstr_str("25%")))))
    spec = msg(f(1, 0), f(2, selector), f(3, pod_template(f(11, entry("app", "web")))), f(4, strategy), f(5, 0),
               f(6, 0), f(7, False), f(9, 600))
    obj = decode_object(envelope("apps/v1", "Deployment", msg(f(1, meta("web")), f(2, spec), f(3, b""))))
    assert obj["spec"] == {
        "replicas": 0, "revisionHistoryLimit": 0, "progressDeadlineSeconds": 600,
        "selector": {"matchLabels": {"app": "web"},
                     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "img:1",
                                              "terminationMessagePath": "/dev/termination-log",
                                              "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File"}]}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
    }
    assert obj["status"] == {}


def test_replicaset():
    spec = msg(f(1, 3), f(4, 0), f(2, msg(f(1, entry("app", "web")))), f(3, pod_template(b"")))
    obj = decode_object(envelope("apps/v1", "ReplicaSet", msg(f(1, meta("rs")), f(2, spec))))
    assert obj["spec"]["replicas"] == 3 and obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert "minReadySeconds" not in obj["spec"]


def test_ingress_rules_are_flattened_and_backends_typed():
    backend = lambda name, port: msg(f(4, msg(f(1, name), f(2, port))))  # noqa: E731
    path = msg(f(1, "/api"), f(2, backend("api", msg(f(1, ""), f(2, 8080)))), f(3, "Prefix"))
    rule = msg(f(1, "a.com"), f(2, msg(f(1, msg(f(1, path))))))
    spec = msg(f(1, backend("def", msg(f(1, "http"), f(2, 0)))), f(2, msg(f(1, "a.com"), f(2, "tls"))),
               f(3, rule), f(4, "nginx"))
    obj = decode_object(envelope("networking.k8s.io/v1", "Ingress", msg(f(1, meta("ing")), f(2, spec))))
    assert obj["spec"] == {
        "defaultBackend": {"service": {"name": "def", "port": {"name": "http"}}},
        "tls": [{"hosts": ["a.com"], "secretName": "tls"}],
        "rules": [{"host": "a.com", "http": {"paths": [
            {"path": "/api", "backend": {"service": {"name": "api", "port": {"number": 8080}}},
             "pathType": "Prefix"}]}}],
        "ingressClassName": "nginx",
    }


def test_scale_replicas_zero_is_kept():
    obj = decode_object(envelope("autoscaling/v1", "Scale", msg(f(1, meta("web")), f(2, msg(f(1, 0))))))
    assert obj["spec"] == {"replicas": 0}


def test_time_micro_time_and_duration():
    t = msg(f(1, 1767225600), f(2, 123456789))
    assert protobuf.decode_message(t, "apis.meta.v1.Time") == "2026-01-01T00:00:00Z"
    assert protobuf.decode_message(t, "apis.meta.v1.MicroTime") == "2026-01-01T00:00:00.123456Z"
    assert protobuf.decode_message(b"", "apis.meta.v1.Time") is None
    for ns, text in [(0, "0s"), (1_500_000_000, "1.5s"), (3_723_000_000_000, "1h2m3s"), (2_000_000, "2ms"),
                     (90_000_000_000, "1m30s"), (-1_000_000_000, "-1s")]:
        assert protobuf.decode_message(f(1, ns), "apis.meta.v1.Duration") == text


# --- kubectl's own bytes ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.pb")))
def test_golden_kubectl_bodies(name):
    want = json.loads((GOLDEN / f"{name}.json").read_text())
    assert decode_object((GOLDEN / f"{name}.pb").read_bytes()) == want["object"], want["command"]


def test_golden_set_covers_the_create_generators():
    assert {p.stem for p in GOLDEN.glob("*.pb")} >= {
        "namespace", "configmap", "secret-generic", "deployment", "service-clusterip", "ingress"}


# --- the table itself ------------------------------------------------------------------------------

def test_schema_is_what_kubectl_embeds():
    """The checked-in table equals a fresh generation from the kubectl we ship (field numbers, types,
    JSON names, inline structs)."""
    assert protobuf_gen.generate(kubectl_path()) == Path(protobuf_schema.__file__).read_text()


def test_keep_zero_names_real_fields():
    for message, names in protobuf_gen.KEEP_ZERO.items():
        fields = {n: t for n, t in protobuf_schema.MESSAGES[message].values()}
        for n in names:
            assert n in fields, f"{message}.{n}"
            assert fields[n].startswith("*"), f"{message}.{n}"


def test_every_served_kind_has_a_schema():
    from minikube_py.api.resources import RESOURCES
    for res in RESOURCES.values():
        assert protobuf_schema.KINDS[(res.api_version, res.kind)] in protobuf_schema.MESSAGES


def test_spot_check_field_numbers_from_generated_proto():
    """A few numbers read off k8s.io/api's generated.proto, independent of the generator."""
    m = protobuf_schema.MESSAGES
    assert m["apis.meta.v1.ObjectMeta"][11] == ("labels", "map:string")
    assert m["apis.meta.v1.ObjectMeta"][17] == ("managedFields", "[]apis.meta.v1.ManagedFieldsEntry")
    assert m["core.v1.Container"][2] == ("image", "string")
    assert m["core.v1.Container"][8] == ("resources", "core.v1.ResourceRequirements")
    assert m["core.v1.ServicePort"][4] == ("targetPort", "util.intstr.IntOrString")
    assert m["core.v1.Secret"][2] == ("data", "map:bytes")
    assert m["core.v1.ResourceRequirements"][1] == ("limits", "map:api.resource.Quantity")
    assert m["apps.v1.DeploymentSpec"][1] == ("replicas", "*int32")
    assert m["core.v1.Volume"][2] == ("", "core.v1.VolumeSource")
    assert m["networking.v1.IngressClassParametersReference"][1] == ("apiGroup", "*string")


def test_eviction_body_decodes_with_its_delete_options():
    """A protobuf policy/v1 Eviction (client-go clients other than kubectl send it so): name, and the
    deleteOptions' gracePeriodSeconds 0, a Go pointer that must survive as 0."""
    meta = msg(f(1, "bound"), f(3, "default"))
    raw = msg(f(1, meta), f(2, msg(f(1, 0))))
    got = decode_object(envelope("policy/v1", "Eviction", raw))
    assert got["apiVersion"] == "policy/v1" and got["kind"] == "Eviction"
    assert got["metadata"] == {"name": "bound", "namespace": "default"}
    assert got["deleteOptions"] == {"gracePeriodSeconds": 0}
