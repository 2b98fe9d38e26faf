"""Network slot choice and node naming for profiles (pure)."""
from __future__ import annotations

import pytest

from minikube_py.config import ClusterConfig
from minikube_py.cluster import layout


def test_first_slot_is_minikube_default() -> None:
    assert layout.slot_networks(0) == {"bridge": "mkpy0", "node_subnet": "192.168.49.0/24",
                                       "pod_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/12"}


def test_slots_step_like_minikube_and_never_overlap() -> None:
    import ipaddress
    assert layout.slot_networks(1)["node_subnet"] == "192.168.58.0/24"
    assert layout.slot_networks(2)["node_subnet"] == "192.168.67.0/24"
    nets = [ipaddress.ip_network(layout.slot_networks(s)[k]) for s in range(layout.MAX_SLOTS)
            for k in ("node_subnet", "pod_cidr", "service_cidr")]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


@pytest.mark.parametrize("bridges,nets,expected", [
    ([], [], 0),
    (["mkpy0"], [], 1),                                  # bridge name taken by another profile
    ([], ["192.168.49.0/24"], 1),                        # node subnet routed on the host already
    ([], ["10.96.0.0/16"], 1),                           # overlaps the service CIDR
    ([], ["10.244.7.0/24"], 1),                          # overlaps the pod CIDR
    (["mkpy0", "mkpy1"], ["192.168.67.0/24"], 3),
    ([], ["172.17.0.0/16", "192.0.2.0/24"], 0),          # Docker's and the uplink's networks don't matter
], ids=["empty", "bridge-taken", "subnet-routed", "service-overlap", "pod-overlap", "skip-two", "unrelated"])
def test_pick_slot(bridges: list[str], nets: list[str], expected: int) -> None:
    assert layout.pick_slot(bridges, nets) == expected


def test_no_free_slot_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="slots are in use"):
        layout.pick_slot([f"mkpy{i}" for i in range(layout.MAX_SLOTS)], [])


def test_node_spec_names_fit_linux_limits() -> None:
    cfg = ClusterConfig(profile="a-rather-long-profile-name", **layout.slot_networks(8))
    for i in (0, 1, 12):
        n = layout.node_spec(cfg, i)
        assert len(n.host_veth) <= 15  # an interface name (namespace names are files: no such limit)
    n = layout.node_spec(cfg, 2)
    assert n.name == "a-rather-long-profile-name-m03"
    assert n.ip == "192.168.121.4" and n.pod_cidr == "10.252.2.0/24"


def test_next_node_index_fills_gaps_after_node_delete() -> None:
    cfg = ClusterConfig(profile="p")
    nodes = [layout.node_spec(cfg, i) for i in (0, 2, 3)]
    assert layout.next_node_index(nodes) == 1
    assert layout.next_node_index([layout.node_spec(cfg, 0)]) == 1


def test_nodes_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path))
    cfg = ClusterConfig(profile="mkt-unit", nodes=3)
    assert [n.index for n in layout.load_nodes(cfg)] == [0, 1, 2]
    layout.save_nodes(cfg, [layout.node_spec(cfg, 0), layout.node_spec(cfg, 2, stopped=True)])
    loaded = layout.load_nodes(ClusterConfig.load("mkt-unit"))
    assert [(n.name, n.stopped) for n in loaded] == [("mkt-unit", False), ("mkt-unit-m03", True)]
    assert ClusterConfig.load("mkt-unit").nodes == 2


def test_find_node_accepts_minikubes_short_names(tmp_path, monkeypatch) -> None:
    """minikube's node.Retrieve takes the config name (`m02`) as well as the machine name (`p-m02`)."""
    monkeypatch.setenv("MINIKUBE_PY_HOME", str(tmp_path))
    cfg = ClusterConfig(profile="p", nodes=3)
    assert layout.find_node(cfg, "p-m02").index == 1
    assert layout.find_node(cfg, "m02").index == 1 and layout.find_node(cfg, "m03").name == "p-m03"
    assert layout.find_node(cfg, "p").index == 0
    for missing in ("m04", "", "m01"):
        with pytest.raises(KeyError):
            layout.find_node(cfg, missing)
