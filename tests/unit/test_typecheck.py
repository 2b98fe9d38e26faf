"""api/typecheck.py: the decoder's type errors for user-written kinds, as Go's encoding/json words them."""
from __future__ import annotations

import copy

import pytest
import yaml

from minikube_py.api.resources import RESOURCES
from minikube_py.api.typecheck import decode_error

STRATEGY = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo-deploy-st}
spec:
  replicas: 4
  selector: {matchLabels: {app: echo, tier: app}}
  minReadySeconds: 5
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 3, maxUnavailable: 3}}
  template:
    metadata: {labels: {app: echo, tier: app}}
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v1
          livenessProbe: {httpGet: {path: /, port: 3000}}
""")


def with_value(path: tuple, value) -> dict:
    d = copy.deepcopy(STRATEGY)
    o = d
    for k in path[:-1]:
        o = o[k]
    o[path[-1]] = value
    return d


def test_well_typed_objects_decode():
    assert decode_error(RESOURCES["deployments"], STRATEGY) is None
    named_port = with_value(("spec", "template", "spec", "containers", 0, "livenessProbe", "httpGet", "port"), "http")
    assert decode_error(RESOURCES["deployments"], named_port) is None  # IntOrString takes both
    assert decode_error(RESOURCES["deployments"], with_value(("status",), {"replicas": "x"})) is None  # not checked


@pytest.mark.parametrize("path,value,message", [
    (("spec", "replicas"), "3",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (("spec", "replicas"), 1.5,
     "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (("metadata", "labels"), {"version": 1},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    (("spec", "paused"), "yes",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    (("spec", "template", "spec", "containers", 0, "image"), 5,
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string"),
    (("spec", "template", "spec", "containers", 0, "command"), "sh -c",
     "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.command of type "
     "[]string"),
    (("spec", "template", "spec", "containers", 0, "imagePullPolicy"), 1,
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.imagePullPolicy "
     "of type v1.PullPolicy"),
    (("spec", "template", "spec", "terminationGracePeriodSeconds"), "30",
     "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.terminationGracePeriodSeconds "
     "of type int64"),
    (("spec", "strategy", "rollingUpdate", "maxSurge"), True,
     "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge "
     "of type int32"),
    (("spec",), "x", "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"),
])
def test_wrong_types_are_named_as_go_does(path, value, message):
    assert decode_error(RESOURCES["deployments"], with_value(path, value)) == message


def test_configmap_data_values_are_strings_and_unchecked_kinds_pass():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"port": 8080}}
    assert decode_error(RESOURCES["configmaps"], cm) == \
        "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
    assert decode_error(RESOURCES["events"], {"count": "x"}) is None


def test_int64_fields_take_values_beyond_int32():
    """Toleration.tolerationSeconds and a preStop sleep's seconds are int64 in Go: 3000000000 decodes."""
    spec = ("spec", "template", "spec")
    toleration = {"key": "k", "operator": "Exists", "tolerationSeconds": 3_000_000_000}
    tolerations = with_value(spec + ("tolerations",), [toleration])
    assert decode_error(RESOURCES["deployments"], tolerations) is None
    sleep = with_value(spec + ("containers", 0, "lifecycle"), {"preStop": {"sleep": {"seconds": 3_000_000_000}}})
    assert decode_error(RESOURCES["deployments"], sleep) is None
    # int32 fields still refuse it, with Go's words
    assert decode_error(RESOURCES["deployments"], with_value(("spec", "replicas"), 3_000_000_000)) == (
        "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32")
