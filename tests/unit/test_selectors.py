"""Label and field selectors: parse, match, print back, reject."""
import pytest

from minikube_py.api.selectors import (
    SUPPORTED_FIELDS,
    format_labels,
    label_selector_from_spec,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "echo", "tier": "app", "version": "3"}

MATCH_CASES = [
    ("", True),
    ("app=echo", True),
    ("app==echo", True),
    ("app=other", False),
    ("app!=other", True),
    ("missing!=x", True),  # != matches objects without the key
    ("missing=x", False),
    ("app in (echo,counter)", True),
    ("app in (counter)", False),
    ("app notin (counter)", True),
    ("missing notin (counter)", True),
    ("app", True),
    ("!app", False),
    ("!missing", True),
    ("app=echo,tier=app", True),
    ("app=echo,tier=db", False),
    ("version>2", True),
    ("version<2", False),
    ("missing>2", False),
    ("  app = echo ,  tier in ( app , db ) ", True),
    ("example.com/key", False),
]


@pytest.mark.parametrize("selector,want", MATCH_CASES, ids=[c[0] or "empty" for c in MATCH_CASES])
def test_label_selector_matches(selector, want):
    assert parse_label_selector(selector).matches(LABELS) is want


def test_none_labels_match_only_absence_requirements():
    assert parse_label_selector("!a").matches(None)
    assert parse_label_selector("a!=b").matches(None)
    assert not parse_label_selector("a").matches(None)


ROUND_TRIP = [
    ("tier=app,app=echo", "app=echo,tier=app"),
    ("a==b", "a==b"),
    ("a!=b", "a!=b"),
    ("env in (prod,dev)", "env in (dev,prod)"),
    ("env notin (x)", "env notin (x)"),
    ("a,!b", "a,!b"),
    ("n>3", "n>3"),
    ("", ""),
]


@pytest.mark.parametrize("given,printed", ROUND_TRIP)
def test_label_selector_prints_like_apimachinery(given, printed):
    assert str(parse_label_selector(given)) == printed
    assert str(parse_label_selector(printed)) == printed


@pytest.mark.parametrize("bad", [
    "a=b,", "=b", "a in b", "a in (b", "a in ()", "a b", "a=b=c", "!a=b", "a>x", "A B/c=d", "a=b c",
    "-bad=x", "a=-bad", "a/b/c=d", "x=" + "v" * 64,
])
def test_label_selector_rejects(bad):
    with pytest.raises(ValueError):
        parse_label_selector(bad)


def test_empty_value_is_allowed():
    sel = parse_label_selector("a=")
    assert sel.matches({"a": ""}) and not sel.matches({"a": "x"})


SPEC_CASES = [
    ({"matchLabels": {"app": "echo"}}, "app=echo", True),
    ({"matchLabels": {"tier": "app", "app": "echo"}}, "app=echo,tier=app", True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["echo", "x"]}]}, "app in (echo,x)", True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["echo"]}]}, "app notin (echo)", False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "app", True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, "!app", False),
    ({}, "", True),
]


@pytest.mark.parametrize("spec,printed,want", SPEC_CASES, ids=[c[1] or "empty" for c in SPEC_CASES])
def test_label_selector_from_spec(spec, printed, want):
    sel = label_selector_from_spec(spec)
    assert str(sel) == printed
    assert sel.matches(LABELS) is want


def test_nil_spec_selector_matches_nothing():
    assert not label_selector_from_spec(None).matches(LABELS)


def test_spec_rejects_unknown_operator():
    with pytest.raises(ValueError):
        label_selector_from_spec({"matchExpressions": [{"key": "a", "operator": "Maybe"}]})


def test_format_labels():
    assert format_labels({"tier": "db", "app": "counter"}) == "app=counter,tier=db"
    assert format_labels({}) == "<none>"


POD = {
    "metadata": {"name": "counter", "namespace": "default"},
    "spec": {"nodeName": "minikube-py", "hostNetwork": False},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}]},
}
EVENT = {
    "metadata": {"name": "counter.1", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "counter", "namespace": "default", "uid": "u-1"},
    "reason": "Pulled", "type": "Normal", "source": {"component": "kubelet"},
}

FIELD_CASES = [
    (POD, "metadata.name=counter", True),
    (POD, "metadata.name==counter", True),
    (POD, "metadata.name!=counter", False),
    (POD, "spec.nodeName=minikube-py,status.phase=Running", True),
    (POD, "spec.nodeName=", False),
    (POD, "spec.hostNetwork=false", True),
    (POD, "status.podIPs=10.244.0.5", True),
    (POD, "status.podIP=", True),  # missing fields compare as ""
    ({"metadata": {"name": "p"}, "spec": {}}, "spec.nodeName=", True),  # the scheduler's "unassigned" query
    (EVENT, "involvedObject.uid=u-1,involvedObject.name=counter,involvedObject.namespace=default", True),
    (EVENT, "involvedObject.kind=Deployment", False),
    (EVENT, "source=kubelet", True),
    ({"type": "Opaque"}, "type=Opaque", True),
    ({"metadata": {"name": "a,b"}}, r"metadata.name=a\,b", True),
]


@pytest.mark.parametrize("obj,selector,want", FIELD_CASES, ids=[c[1] for c in FIELD_CASES])
def test_field_selector_matches(obj, selector, want):
    assert parse_field_selector(selector).matches(obj) is want


def test_field_selector_unsupported_fields():
    sel = parse_field_selector("metadata.name=x,spec.foo=y")
    assert sel.unsupported("pods") == ["spec.foo"]
    assert parse_field_selector("spec.nodeName=n").unsupported("services") == ["spec.nodeName"]
    assert parse_field_selector("type=Opaque").unsupported("secrets") == []
    assert "involvedObject.uid" in SUPPORTED_FIELDS["events"]


def test_field_selector_value_for_and_str():
    sel = parse_field_selector("metadata.name=x,spec.nodeName!=n")
    assert sel.value_for("metadata.name") == "x"
    assert sel.value_for("spec.nodeName") is None
    assert str(sel) == "metadata.name=x,spec.nodeName!=n"
    assert parse_field_selector("").empty()


@pytest.mark.parametrize("bad", ["metadata.name", "=x", r"metadata.name=a\b"])
def test_field_selector_rejects(bad):
    with pytest.raises(ValueError):
        parse_field_selector(bad)
