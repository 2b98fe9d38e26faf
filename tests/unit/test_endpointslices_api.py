"""The EndpointSlice kind on the API side: kubectl's table columns and cells (printers.go
printEndpointSlice), defaults and the essentials of validation (pkg/apis/discovery/validation)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from minikube_py.api import discovery
from minikube_py.api.defaults import apply_defaults
from minikube_py.api.resources import RESOURCES, lookup
from minikube_py.api.tables import render_text, to_table
from minikube_py.api.validation import validate

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
ES = RESOURCES["endpointslices"]


def es(name, endpoints, ports, age=90, addr_type="IPv4"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default",
                         "creationTimestamp": (NOW - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "addressType": addr_type, "endpoints": endpoints, "ports": ports}


def ep(ip, ready=True):
    return {"addresses": [ip], "conditions": {"ready": ready}}


def test_registered_like_kubernetes():
    assert lookup("endpointslices") is ES and lookup("endpointslice.discovery.k8s.io") is ES
    assert ES.api_version == "discovery.k8s.io/v1" and ES.namespaced and ES.short_names == ()
    group = next(g for g in discovery.api_group_list()["groups"] if g["name"] == "discovery.k8s.io")
    assert group["preferredVersion"] == {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}
    entry = next(r for r in discovery.api_resource_list("discovery.k8s.io/v1")["resources"])
    assert entry["name"] == "endpointslices" and entry["kind"] == "EndpointSlice" and "shortNames" not in entry


def test_table_columns_and_cells():
    objs = [es("redis-x7k2p", [ep("10.244.0.5")], [{"name": "", "port": 6379, "protocol": "TCP"}]),
            es("web-abcde", [ep("10.244.0.2"), ep("10.244.0.3", ready=False), ep("10.244.1.2"), ep("10.244.1.3")],
               [{"name": "a", "port": 80}, {"name": "b", "port": 81}, {"name": "c"}, {"port": 83}], age=700),
            es("web-empty", None, None, age=30)]
    table = to_table(ES, objs, now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert render_text(table) == (
        "NAME          ADDRESSTYPE   PORTS                 ENDPOINTS                                      AGE\n"
        "redis-x7k2p   IPv4          6379                  10.244.0.5                                     90s\n"
        "web-abcde     IPv4          80,81,c + 1 more...   10.244.0.2,10.244.0.3,10.244.1.2 + 1 more...   11m\n"
        "web-empty     IPv4          <unset>               <unset>                                        30s\n")


def test_defaults_port_name_and_protocol_and_null_lists():
    obj = es("x", [], [{"port": 80}])
    apply_defaults(ES, obj)
    assert obj["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}] and obj["endpoints"] is None


def messages(obj, old=None):
    return [f"{c['field']}: {c['message']}" for c in validate(ES, obj, old)]


def test_validation_essentials():
    assert messages(es("ok", [ep("10.244.0.5")], [{"name": "", "port": 80, "protocol": "TCP"}])) == []
    assert messages(es("x", None, None, addr_type="")) == ["addressType: Required value"]
    assert messages(es("x", None, None, addr_type="IPv5")) == [
        'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"']
    assert messages(es("x", [{"addresses": []}, ep("fe80::1"), ep("nope")], None)) == [
        "endpoints[0].addresses: Required value: must contain at least 1 address",
        'endpoints[1].addresses[0]: Invalid value: "fe80::1": must be a valid IPv4 address',
        'endpoints[2].addresses[0]: Invalid value: "nope": must be a valid IPv4 address']
    assert messages(es("x", None, [{"name": "a", "port": 80, "protocol": "TCP"},
                                   {"name": "a", "port": 81, "protocol": "ICMP"}])) == [
        'ports[1].name: Duplicate value: "a"',
        'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']
    old = es("x", None, None)
    assert messages(es("x", None, None, addr_type="IPv6"), old) == [
        'addressType: Invalid value: "IPv6": field is immutable']
