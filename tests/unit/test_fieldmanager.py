"""api/fieldmanager.py: managedFields bookkeeping and server-side apply, without a server."""
from __future__ import annotations

import copy

import pytest

from minikube_py.api import fieldmanager as fm

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def deployment(image: str = "echo:v1", replicas: int = 4, labels: dict | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "5",
                         **({"labels": labels} if labels else {})},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image,
                                                           "ports": [{"containerPort": 80}]}]}}},
            "status": {"replicas": 4}}


def owners(obj: dict) -> dict[tuple[str, str], set[str]]:
    return {(e["manager"], e["operation"]): {fm.path_string(p) for p in fm.from_fields_v1(e["fieldsV1"])}
            for e in obj["metadata"].get("managedFields") or []}


def test_leaves_use_list_map_keys_and_skip_server_fields():
    paths = {fm.path_string(p) for p in fm.leaves(deployment(labels={"team": "a"}), "Deployment")}
    assert ".metadata.labels.team" in paths and ".spec.replicas" in paths
    assert '.spec.template.spec.containers[name="web"]' in paths
    assert '.spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].containerPort' in paths
    assert not any(p.startswith((".status", ".metadata.uid", ".metadata.name", ".kind")) for p in paths)


def test_fields_v1_round_trip_marks_list_elements():
    paths = set(fm.leaves(deployment(), "Deployment"))
    tree = fm.to_fields_v1(paths)
    assert tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']["."] == {}
    assert fm.from_fields_v1(tree) == paths


def test_create_gives_the_creator_every_field_and_an_update_moves_only_what_changed():
    obj = deployment()
    fm.record_update(None, obj, "Deployment", "kubectl-create", "apps/v1", T0)
    assert ".spec.replicas" in owners(obj)[("kubectl-create", "Update")]
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = 2
    fm.record_update(obj, new, "Deployment", "kubectl-scale", "apps/v1", T1)
    got = owners(new)
    assert got[("kubectl-scale", "Update")] == {".spec.replicas"}
    assert ".spec.replicas" not in got[("kubectl-create", "Update")]
    assert next(e for e in new["metadata"]["managedFields"] if e["manager"] == "kubectl-scale")["time"] == T1


def test_an_unchanged_write_leaves_managed_fields_alone():
    obj = deployment()
    fm.record_update(None, obj, "Deployment", "a", "apps/v1", T0)
    again = copy.deepcopy(obj)
    fm.record_update(obj, again, "Deployment", "b", "apps/v1", T1)
    assert again["metadata"]["managedFields"] == obj["metadata"]["managedFields"]


def test_apply_removes_what_the_manager_stopped_applying():
    live = fm.apply(None, deployment(labels={"a": "1", "b": "2"}), "Deployment", "kubectl", "apps/v1", T0)
    again = fm.apply(live, deployment(labels={"a": "1"}), "Deployment", "kubectl", "apps/v1", T1)
    assert again["metadata"]["labels"] == {"a": "1"}
    assert ".metadata.labels.b" not in owners(again)[("kubectl", "Apply")]


def test_apply_keeps_a_dropped_field_another_manager_also_owns():
    live = fm.apply(None, deployment(labels={"a": "1", "b": "2"}), "Deployment", "kubectl", "apps/v1", T0)
    live = fm.apply(live, deployment(labels={"b": "2"}), "Deployment", "other", "apps/v1", T0)  # co-owns b
    again = fm.apply(live, deployment(labels={"a": "1"}), "Deployment", "kubectl", "apps/v1", T1)
    assert again["metadata"]["labels"] == {"a": "1", "b": "2"}


def test_apply_removes_a_dropped_container_with_its_fields():
    two = deployment()
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = fm.apply(None, two, "Deployment", "kubectl", "apps/v1", T0)
    again = fm.apply(live, deployment(), "Deployment", "kubectl", "apps/v1", T1)
    assert [c["name"] for c in again["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_apply_over_another_managers_value_conflicts_unless_forced():
    live = fm.apply(None, deployment(), "Deployment", "kubectl", "apps/v1", T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 2
    fm.record_update(live, scaled, "Deployment", "kubectl", "apps/v1", T1, subresource="scale")
    with pytest.raises(fm.ApplyConflict) as err:
        fm.apply(scaled, deployment(), "Deployment", "kubectl", "apps/v1", T1)
    assert str(err.value) == ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
                              'using apps/v1: .spec.replicas')
    assert err.value.causes == [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                 "message": 'conflict with "kubectl" with subresource "scale" using apps/v1'}]
    forced = fm.apply(scaled, deployment(), "Deployment", "kubectl", "apps/v1", T1, force=True)
    assert forced["spec"]["replicas"] == 4
    assert (("kubectl", "Update")) not in owners(forced)     # its only field was taken over


def test_applying_the_same_value_shares_ownership_without_conflict():
    live = fm.apply(None, deployment(), "Deployment", "a", "apps/v1", T0)
    both = fm.apply(live, deployment(), "Deployment", "b", "apps/v1", T1)
    got = owners(both)
    assert ".spec.replicas" in got[("a", "Apply")] and ".spec.replicas" in got[("b", "Apply")]


def test_many_conflicts_are_grouped_by_manager():
    live = fm.apply(None, deployment(labels={"x": "1"}), "Deployment", "a", "apps/v1", T0)
    with pytest.raises(fm.ApplyConflict) as err:
        fm.apply(live, deployment(image="echo:v2", replicas=1, labels={"x": "2"}), "Deployment", "b", "apps/v1", T1)
    assert str(err.value) == ('Apply failed with 3 conflicts: conflicts with "a":\n'
                              '- .metadata.labels.x\n- .spec.replicas\n'
                              '- .spec.template.spec.containers[name="web"].image')


def test_a_client_sending_an_empty_list_clears_managed_fields():
    obj = deployment()
    fm.record_update(None, obj, "Deployment", "a", "apps/v1", T0)
    cleared = copy.deepcopy(obj)
    cleared["metadata"]["managedFields"] = []
    fm.record_update(obj, cleared, "Deployment", "a", "apps/v1", T1)
    assert "managedFields" not in cleared["metadata"]


def test_schema_path_names_keyed_elements_by_key_and_others_by_index():
    """The spelling of server-side apply's "field not declared in schema" errors."""
    d = deployment()
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["imagePolicy"] = "Always"
    c["ports"][0]["foo"] = 1
    d["spec"]["template"]["spec"]["tolerations"] = [{"bogus": 1}]
    assert (fm.schema_path(d, "Deployment", "spec.template.spec.containers[0].imagePolicy")
            == '.spec.template.spec.containers[name="web"].imagePolicy')
    assert (fm.schema_path(d, "Deployment", "spec.template.spec.containers[0].ports[0].foo")
            == '.spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].foo')
    assert fm.schema_path(d, "Deployment", "spec.template.spec.tolerations[0].bogus") == \
        ".spec.template.spec.tolerations[0].bogus"
    assert fm.schema_path(d, "Deployment", "spec.foo") == ".spec.foo"


def test_null_fields_are_not_owned():
    """A template's `creationTimestamp: null` is absent to the Go types: no manager owns it."""
    d = deployment()
    d["spec"]["template"]["metadata"]["creationTimestamp"] = None
    paths = {fm.path_string(p) for p in fm.leaves(d, "Deployment")}
    assert ".spec.template.metadata.labels.app" in paths
    assert not any("creationTimestamp" in p for p in paths)
