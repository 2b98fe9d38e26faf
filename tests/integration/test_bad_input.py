"""Bad input through the real kubectl and raw HTTPS: the error a real v1.33 cluster gives, and nothing
stored that the user did not see accepted.

Runs an embedded control plane (no controllers, no pods): this is about the API's answers."""
from __future__ import annotations

import json
import ssl

import aiohttp
import pytest

from minikube_py.client.client import ApiError


@pytest.fixture
async def raw(cp):
    """An aiohttp session trusting our CA, with the admin token: for requests ApiClient won't make."""
    ctx = ssl.create_default_context(cafile=str(cp.pki.ca_cert))
    headers = {"Authorization": f"Bearer {cp.pki.admin_token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx), headers=headers) as s:
        yield s


WRONG_KINDS = """\
apiVersion: v1
kind: Deployment
metadata:
  name: wk1
---
apiVersion: apps/v9
kind: Deployment
metadata:
  name: wk2
---
apiVersion: v1
kind: Frobnicator
metadata:
  name: wk3
"""


@pytest.mark.parametrize("cmd", ["apply", "create"])
def test_unknown_api_version_or_kind_is_a_mapping_error(kubectl, tmp_path, cmd):
    """kubectl validates before it maps kinds; a kind the server lacks must reach the mapping step and
    print `no matches for kind`, not a failed OpenAPI download (kubectl falls back to /openapi/v2)."""
    f = tmp_path / "wrong.yaml"
    f.write_text(WRONG_KINDS)
    p = kubectl(cmd, "-f", str(f), check=False)
    assert p.returncode == 1
    assert "failed to download openapi" not in p.stderr and "could not find the requested" not in p.stderr
    assert 'no matches for kind "Deployment" in version "v1"' in p.stderr, p.stderr
    assert 'no matches for kind "Deployment" in version "apps/v9"' in p.stderr
    assert 'no matches for kind "Frobnicator" in version "v1"' in p.stderr


def test_apply_still_configures_after_openapi_v2_answers(kubectl, tmp_path):
    """Client-side apply's second run reads /openapi/v2 for the patch; an empty document must leave it to
    the built-in strategic-merge rules (containers merged by name)."""
    f = tmp_path / "dep.yaml"
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "v2apply"},
           "spec": {"selector": {"matchLabels": {"app": "v2apply"}},
                    "template": {"metadata": {"labels": {"app": "v2apply"}},
                                 "spec": {"containers": [{"name": "c", "image": "minikube-py/busybox:1"}]}}}}
    f.write_text(json.dumps(dep))
    assert kubectl("apply", "-f", str(f)).stdout.strip() == "deployment.apps/v2apply created"
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    f.write_text(json.dumps(dep))
    assert kubectl("apply", "-f", str(f)).stdout.strip() == "deployment.apps/v2apply configured"
    got = json.loads(kubectl("get", "deploy", "v2apply", "-o", "json").stdout)
    assert got["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "X", "value": "1"}]
    kubectl("delete", "deploy", "v2apply")


UNKNOWN_FIELDS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  bogus: 1
data:
  a: "1"
spec: {{}}
"""


def test_unknown_fields_warn_or_ignore_are_dropped(kubectl, tmp_path):
    """`--validate=warn` prints one `Warning: unknown field` per field and `--validate=false` says nothing;
    both store the object without the fields, as the apiserver's typed decoder drops them."""
    f = tmp_path / "u.yaml"
    f.write_text(UNKNOWN_FIELDS.format(name="warned"))
    p = kubectl("create", "--validate=warn", "-f", str(f))
    assert 'Warning: unknown field "metadata.bogus"' in p.stderr and 'Warning: unknown field "spec"' in p.stderr
    got = json.loads(kubectl("get", "cm", "warned", "-o", "json").stdout)
    assert "bogus" not in got["metadata"] and "spec" not in got and got["data"] == {"a": "1"}

    f.write_text(UNKNOWN_FIELDS.format(name="ignored"))
    p = kubectl("create", "--validate=false", "-f", str(f))
    assert "Warning" not in p.stderr
    got = json.loads(kubectl("get", "cm", "ignored", "-o", "json").stdout)
    assert "bogus" not in got["metadata"] and "spec" not in got

    p = kubectl("patch", "cm", "ignored", "--type=merge", "-p", '{"data":{"b":"2"},"extra":true}')
    assert 'Warning: unknown field "extra"' in p.stderr
    got = json.loads(kubectl("get", "cm", "ignored", "-o", "json").stdout)
    assert "extra" not in got and got["data"] == {"a": "1", "b": "2"}
    kubectl("delete", "cm", "warned", "ignored")


async def test_unknown_fields_warning_header_and_strict_stays_400(client, raw, cp):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hdr", "bogus": 1}, "spec": {}}
    url = cp.url + "/api/v1/namespaces/default/configmaps"
    async with raw.post(url, json=body) as r:
        assert r.status == 201
        assert r.headers.getall("Warning") == ['299 - "unknown field \\"metadata.bogus\\""',
                                               '299 - "unknown field \\"spec\\""']
        stored = await r.json()
        assert "bogus" not in stored["metadata"] and "spec" not in stored
    body["metadata"]["name"] = "hdr2"
    async with raw.post(url, json=body, params={"fieldValidation": "Strict"}) as r:
        assert r.status == 400
        assert (await r.json())["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                                               'decoding error: unknown field "metadata.bogus", unknown field "spec"')
    await client.delete("configmaps", "hdr", namespace="default")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
async def test_create_or_update_with_an_unknown_content_type_is_415(raw, cp, content_type):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ct"}})
    url = cp.url + "/api/v1/namespaces/default/configmaps"
    for method, target in (("POST", url), ("PUT", url + "/ct")):
        async with raw.request(method, target, data=body, headers={"Content-Type": content_type}) as r:
            status = await r.json()
            assert r.status == 415, status
            assert status["reason"] == "UnsupportedMediaType"
            assert status["message"] == ("the body of the request was in an unknown format - accepted media types "
                                         "include: application/json, application/yaml, "
                                         "application/vnd.kubernetes.protobuf")


@pytest.mark.parametrize("body,message", [
    (b'{"apiVersion":"v1","kind":"ConfigMap",', "unexpected end of JSON input"),
    (b"hello", "invalid character 'h' looking for beginning of value"),
    (b'{"a" 1}', "invalid character '1' after object key"),
    (b"{'a': 1}", "invalid character '\\'' looking for beginning of object key string"),
    (b'{"a": 1} x', "invalid character 'x' after top-level value"),
])
async def test_malformed_json_reads_like_go(raw, cp, body, message):
    url = cp.url + "/api/v1/namespaces/default/configmaps"
    async with raw.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
        status = await r.json()
        assert r.status == 400 and status["reason"] == "BadRequest"
        assert status["message"] == f"couldn't get version/kind; json parse error: {message}"


async def test_changing_a_service_cluster_ip_names_the_new_value(client):
    """Only `clusterIP` changed (an old client): the registry makes `clusterIPs` follow it, so the 422
    shows the IP the user asked for, not the stored one."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ipchange"},
           "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    created = await client.create("services", svc, namespace="default")
    ip = created["spec"]["clusterIP"]
    other = "10.96.0.99" if ip != "10.96.0.99" else "10.96.0.98"
    try:
        with pytest.raises(ApiError) as e:
            await client.patch("services", "ipchange", {"spec": {"clusterIP": other}}, namespace="default",
                               patch_type="merge")
        assert e.value.status == 422
        assert e.value.message == (f'Service "ipchange" is invalid: spec.clusterIPs[0]: Invalid value: '
                                   f'[]string{{"{other}"}}: may not change once set')
        # Only `clusterIPs` changed: refused too, rather than silently overwritten with the old IP.
        with pytest.raises(ApiError) as e:
            await client.patch("services", "ipchange", [{"op": "replace", "path": "/spec/clusterIPs",
                                                         "value": [other]}], namespace="default",
                               patch_type="json")
        assert e.value.status == 422 and "may not change once set" in e.value.message
        assert f'spec.clusterIPs: Invalid value: []string{{"{other}"}}: first value must match `clusterIP`' \
            in e.value.message
        got = await client.get("services", "ipchange", namespace="default")
        assert got["spec"]["clusterIP"] == ip and got["spec"]["clusterIPs"] == [ip]
    finally:
        await client.delete("services", "ipchange", namespace="default")


def test_wrongly_typed_values_are_refused_and_not_stored(kubectl, tmp_path):
    """`replicas: "3"` or a numeric label value never decodes into the Go types: the real 400 message, and
    no object appears (stored, it would break the controllers and `kubectl get`)."""
    f = tmp_path / "typed.yml"
    f.write_text('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: typed\nspec:\n  replicas: "3"\n'
                 '  selector:\n    matchLabels: {app: t}\n  template:\n    metadata:\n      labels: {app: t}\n'
                 '    spec:\n      containers: [{name: c, image: x}]\n')
    p = kubectl("apply", "-f", str(f), check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        f'Error from server (BadRequest): error when creating "{f}": Deployment in version "v1" cannot be '
        'handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas '
        'of type int32')
    p = kubectl("create", "configmap", "typed", "--dry-run=client", "-o", "yaml")
    cm = p.stdout.replace("metadata:", "data:\n  port: 8080\nmetadata:", 1)
    p = kubectl("create", "-f", "-", input=cm, check=False)
    assert p.returncode == 1 and p.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be '
        'handled as a ConfigMap: json: '
        'cannot unmarshal number into Go struct field ConfigMap.data of type string')
    assert kubectl("get", "deploy,cm", "typed", check=False).returncode == 1
