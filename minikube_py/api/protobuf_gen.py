"""Generate `protobuf_schema.py` from the protobuf descriptors compiled into kubectl itself.

Why from kubectl: Kubernetes' Go code registers each `generated.proto` as a gzipped FileDescriptorProto,
and those bytes sit in the kubectl binary. Reading them gives the exact field numbers and types of the
kubectl version we ship, with no proto files or protobuf package to install.

Run `python -m minikube_py.api.protobuf_gen [KUBECTL]` to rewrite `protobuf_schema.py` (it is imported while
generating, so the file is replaced only when the new text is complete); the unit tests compare the
checked-in table with a fresh generation.

Proto field names are mostly the JSON names, with two kinds of exception that the Go struct tags (also in
the binary, as `json:"apiGroup,omitempty" protobuf:"bytes,1,opt,name=aPIGroup"`) resolve: a few renamed
fields, and embedded structs (`json:",inline"`: Volume's `volumeSource`, Probe's `handler`, IngressRule's
`ingressRuleValue`, …) whose fields JSON flattens into the parent; the table gives those the JSON name "".

What the descriptors can't say is which Go fields are pointers (`*int32 replicas`): the encoder writes
those only when set, so their zero value means something (`replicas: 0`, `automountServiceAccountToken:
false`). KEEP_ZERO lists them for the messages we decode, from the Go types in k8s.io/api, together with
the required numbers whose JSON tag has no omitempty (`port`, `containerPort`): JSON carries their 0 too,
and validation should see it.
"""
from __future__ import annotations

import re
import sys
import zlib
from pathlib import Path

from .protobuf import decode_fields
from .resources import RESOURCES

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
PREFIXES = ("k8s.io.api.", "k8s.io.apimachinery.pkg.")
GROUP_PACKAGES = {"": "core", "apps": "apps", "networking.k8s.io": "networking", "autoscaling": "autoscaling",
                  "coordination.k8s.io": "coordination", "discovery.k8s.io": "discovery"}

# Kinds decoded besides the registry's: the scale subresource's body, the Eviction body of pods/eviction
# (kubectl sends it as JSON; protobuf clients of client-go do not), and the DeleteOptions body of plain
# DELETEs (`kubectl drain --disable-eviction`), registered in every group version.
EXTRA_KINDS = [("autoscaling/v1", "Scale", "autoscaling.v1.Scale"),
               ("policy/v1", "Eviction", "policy.v1.Eviction")] + [
    (gv, "DeleteOptions", "apis.meta.v1.DeleteOptions")
    for gv in ("v1", "apps/v1", "networking.k8s.io/v1", "meta.k8s.io/v1")]

# Fields (by JSON name) whose zero value is kept: Go pointers and non-omitempty numbers; see the docstring.
KEEP_ZERO = {
    "apis.meta.v1.DeleteOptions": {"gracePeriodSeconds", "orphanDependents", "propagationPolicy",
                                   "ignoreStoreReadErrorWithClusterBreakingPotential"},
    "apis.meta.v1.Preconditions": {"uid", "resourceVersion"},
    "apis.meta.v1.ObjectMeta": {"deletionGracePeriodSeconds"},
    "apis.meta.v1.OwnerReference": {"controller", "blockOwnerDeletion"},
    "core.v1.ConfigMap": {"immutable"},
    "core.v1.Secret": {"immutable"},
    "core.v1.ServiceAccount": {"automountServiceAccountToken"},
    "core.v1.PodSpec": {"terminationGracePeriodSeconds", "activeDeadlineSeconds", "automountServiceAccountToken",
                        "shareProcessNamespace", "priority", "enableServiceLinks", "preemptionPolicy",
                        "setHostnameAsFQDN", "hostUsers", "runtimeClassName"},
    "core.v1.PodSecurityContext": {"runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "fsGroupChangePolicy",
                                   "supplementalGroupsPolicy", "seLinuxChangePolicy"},
    "core.v1.SecurityContext": {"privileged", "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
                                "allowPrivilegeEscalation", "procMount"},
    "core.v1.Container": {"restartPolicy"},
    "core.v1.EphemeralContainerCommon": {"restartPolicy"},
    "core.v1.Probe": {"terminationGracePeriodSeconds"},
    "core.v1.ConfigMapVolumeSource": {"defaultMode", "optional"},
    "core.v1.SecretVolumeSource": {"defaultMode", "optional"},
    "core.v1.ProjectedVolumeSource": {"defaultMode"},
    "core.v1.DownwardAPIVolumeSource": {"defaultMode"},
    "core.v1.DownwardAPIVolumeFile": {"mode"},
    "core.v1.KeyToPath": {"mode"},
    "core.v1.ConfigMapProjection": {"optional"},
    "core.v1.SecretProjection": {"optional"},
    "core.v1.ConfigMapKeySelector": {"optional"},
    "core.v1.SecretKeySelector": {"optional"},
    "core.v1.ConfigMapEnvSource": {"optional"},
    "core.v1.SecretEnvSource": {"optional"},
    "core.v1.HostPathVolumeSource": {"type"},
    "core.v1.ServiceAccountTokenProjection": {"expirationSeconds"},
    "core.v1.VolumeMount": {"mountPropagation", "recursiveReadOnly"},
    "core.v1.ServiceSpec": {"allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy",
                            "ipFamilyPolicy", "trafficDistribution"},
    "core.v1.ServicePort": {"port", "appProtocol"},
    "core.v1.ClientIPConfig": {"timeoutSeconds"},
    "core.v1.EndpointAddress": {"nodeName"},
    "core.v1.Toleration": {"tolerationSeconds"},
    "core.v1.TopologySpreadConstraint": {"maxSkew", "minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"},
    "core.v1.CSIVolumeSource": {"readOnly", "fsType"},
    "core.v1.FCVolumeSource": {"lun"},
    "core.v1.ClusterTrustBundleProjection": {"name", "signerName", "optional"},
    "core.v1.WindowsSecurityContextOptions": {"gmsaCredentialSpecName", "runAsUserName", "hostProcess"},
    "core.v1.ContainerPort": {"containerPort"},
    "core.v1.EndpointPort": {"port", "appProtocol"},
    "core.v1.GRPCAction": {"port", "service"},
    "core.v1.SleepAction": {"seconds"},
    "core.v1.PreferredSchedulingTerm": {"weight"},
    "core.v1.WeightedPodAffinityTerm": {"weight"},
    "apps.v1.DeploymentSpec": {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds"},
    "apps.v1.ReplicaSetSpec": {"replicas"},
    "autoscaling.v1.ScaleSpec": {"replicas"},  # not a pointer, but 0 is a real answer to "scale to"
    "apps.v1.RollingUpdateDeployment": {"maxUnavailable", "maxSurge"},
    "networking.v1.IngressSpec": {"ingressClassName"},
    "networking.v1.HTTPIngressPath": {"pathType"},
    "networking.v1.IngressClassParametersReference": {"apiGroup", "scope", "namespace"},
    "discovery.v1.Endpoint": {"hostname", "nodeName", "zone"},
    "discovery.v1.EndpointConditions": {"ready", "serving", "terminating"},
    "discovery.v1.EndpointPort": {"name", "protocol", "port", "appProtocol"},
    "coordination.v1.LeaseSpec": {"holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime",
                                  "leaseTransitions", "strategy", "preferredHolder"},
}

_SCALAR_TYPES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32",
                 8: "bool", 9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64",
                 17: "sint32", 18: "sint64"}
_FILE = {1: ("name", "string"), 2: ("package", "string"), 4: ("messages", "[]rawbytes")}
_MESSAGE = {1: ("name", "string"), 2: ("fields", "[]rawbytes"), 3: ("nested", "[]rawbytes"),
            7: ("options", "rawbytes")}
_FIELD = {1: ("name", "string"), 3: ("number", "int32"), 4: ("label", "int32"), 5: ("type", "int32"),
          6: ("typeName", "string"), 10: ("jsonName", "string")}


def short_name(full: str) -> str:
    full = full.lstrip(".")
    for p in PREFIXES:
        if full.startswith(p):
            return full[len(p):]
    return full


def embedded_descriptors(binary: Path) -> list[bytes]:
    """Every gzipped FileDescriptorProto of a `generated.proto` inside `binary`."""
    data = binary.read_bytes()
    out = []
    for m in re.finditer(re.escape(GZIP_HEADER), data):
        d = zlib.decompressobj(31)
        try:
            raw = d.decompress(data[m.start():m.start() + 4 << 20])
        except zlib.error:
            continue
        if d.eof and b"generated.proto" in raw[:120]:
            out.append(raw)
    return out


_TAG = re.compile(rb'json:"([^"]*)" protobuf:"[a-z0-9]+,[0-9]+,(?:opt|rep|req)[^"]*?name=([A-Za-z0-9_]+)')
# EphemeralContainer embeds EphemeralContainerCommon with a tag that names no proto field.
ALWAYS_INLINE = {"ephemeralContainerCommon"}


def json_names(binary: Path) -> tuple[dict[str, str], set[str]]:
    """From the Go struct tags in `binary`: ({proto name: JSON name} where they differ, {inline proto names})."""
    renames: dict[str, set[str]] = {}
    inline = set(ALWAYS_INLINE)
    for js, proto in set(_TAG.findall(binary.read_bytes())):
        name, proto_name = js.decode().split(",")[0], proto.decode()
        if not name and ",inline" in js.decode():
            inline.add(proto_name)
        elif name and name != "-" and name != proto_name:
            renames.setdefault(proto_name, set()).add(name)
    ambiguous = {k: v for k, v in renames.items() if len(v) > 1}
    if ambiguous:
        raise ValueError(f"proto names with several JSON names: {ambiguous}")
    return {k: v.pop() for k, v in renames.items()}, inline


def message_table(descriptors: list[bytes]) -> dict[str, dict]:
    """{short message name: {"fields": {number: (name, label, type)}, "map": (k, v) | None}}."""
    table: dict[str, dict] = {}

    def walk(raw: bytes, scope: str) -> None:
        m = decode_fields(raw, _MESSAGE)
        name = f"{scope}.{m['name']}"
        is_map = bool(m.get("options")) and decode_fields(m["options"], {7: ("mapEntry", "bool")}).get("mapEntry")
        fields = {}
        for fraw in m.get("fields", []):
            f = decode_fields(fraw, _FIELD)
            typ = _SCALAR_TYPES.get(f.get("type", 0)) or short_name(f.get("typeName", ""))
            fields[f["number"]] = (f.get("jsonName") or f["name"], f.get("label", 1), typ)
        table[short_name(name)] = {"fields": fields, "map": is_map}
        for nraw in m.get("nested", []):
            walk(nraw, name)

    for d in descriptors:
        f = decode_fields(d, _FILE)
        for raw in f.get("messages", []):
            walk(raw, f["package"])
    return table


def kinds() -> list[tuple[str, str, str]]:
    """(apiVersion, kind, message) for every kind our API server stores, plus EXTRA_KINDS."""
    out = []
    for res in RESOURCES.values() if isinstance(RESOURCES, dict) else RESOURCES:
        out.append((res.api_version, res.kind, f"{GROUP_PACKAGES[res.group]}.{res.version}.{res.kind}"))
    return sorted(set(out)) + EXTRA_KINDS


SPECIAL_MESSAGES = {"apis.meta.v1.Time", "apis.meta.v1.MicroTime", "apis.meta.v1.Duration", "apis.meta.v1.FieldsV1",
                    "runtime.RawExtension", "api.resource.Quantity", "util.intstr.IntOrString"}


def schema(table: dict[str, dict], roots: list[str], renames: dict[str, str] | None = None,
           inline: set[str] | None = None) -> dict[str, dict[int, tuple[str, str]]]:
    """The field tables of every message reachable from `roots`, in our type notation."""
    renames, inline = renames or {}, inline or set()
    out: dict[str, dict[int, tuple[str, str]]] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out or name in SPECIAL_MESSAGES:
            continue
        if name not in table:
            raise KeyError(f"message {name} is not in kubectl's descriptors")
        keep_zero = KEEP_ZERO.get(name, set())
        fields = {}
        for number, (proto_name, label, typ) in sorted(table[name]["fields"].items()):
            fname = "" if proto_name in inline else renames.get(proto_name, proto_name)
            entry = table.get(typ)
            if entry is not None and entry["map"]:
                vtyp = entry["fields"][2][2]
                notation = f"map:{vtyp}"
                if vtyp not in _SCALAR_TYPES.values():
                    todo.append(vtyp)
            else:
                if typ not in _SCALAR_TYPES.values():
                    todo.append(typ)
                notation = ("[]" if label == 3 else "*" if fname in keep_zero else "") + typ
            fields[number] = (fname, notation)
        out[name] = fields
    return out


def generate(binary: Path) -> str:
    """The source of protobuf_schema.py."""
    table = message_table(embedded_descriptors(binary))
    renames, inline = json_names(binary)
    ks = kinds()
    messages = schema(table, [m for _, _, m in ks], renames, inline)
    lines = [
        '"""Field tables for decoding Kubernetes protobuf bodies. GENERATED by `python -m',
        'minikube_py.api.protobuf_gen` from the descriptors inside kubectl; do not edit by hand.',
        "",
        "MESSAGES: message → {field number: (JSON name, type)}; types: a scalar, a message, `[]T` repeated,",
        "`map:T` map<string, T>, `*T` a field whose zero value is kept; JSON name \"\" an inline struct.",
        'KINDS: (apiVersion, kind) → message."""',
        "from __future__ import annotations",
        "",
        "KINDS: dict[tuple[str, str], str] = {",
    ]
    lines += [f"    ({av!r}, {k!r}): {m!r}," for av, k, m in ks]
    lines += ["}", "", "MESSAGES: dict[str, dict[int, tuple[str, str]]] = {"]
    for name in sorted(messages):
        lines.append(f"    {name!r}: {{")
        for number, (fname, notation) in messages[name].items():
            lines.append(f"        {number}: ({fname!r}, {notation!r}),")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    from minikube_py.kubectl import kubectl_path
    text = generate(Path(sys.argv[1]) if len(sys.argv) > 1 else kubectl_path())
    target = Path(__file__).with_name("protobuf_schema.py")
    tmp = target.with_suffix(".py.tmp")
    tmp.write_text(text)
    tmp.replace(target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
