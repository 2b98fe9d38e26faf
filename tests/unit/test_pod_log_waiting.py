"""Why a container has no log yet: the kubelet's words, which the API server relays as a 400."""
from __future__ import annotations

import pytest

from minikube_py.api.server import _Handlers


def pod(state: dict, last: dict | None = None) -> dict:
    return {"status": {"containerStatuses": [{"name": "app", "state": state, "lastState": last or {}}]}}


@pytest.mark.parametrize("reason,words", [
    ("ErrImagePull", "image can't be pulled"),
    ("ImagePullBackOff", "trying and failing to pull image"),
    ("ErrImageNeverPull", "ErrImageNeverPull"),
    ("ContainerCreating", "ContainerCreating"),
])
def test_waiting_reasons_in_the_kubelets_words(reason, words):
    assert _Handlers._waiting_reason(pod({"waiting": {"reason": reason}}), "app") == words


def test_a_container_that_ran_has_a_log():
    assert _Handlers._waiting_reason(pod({"running": {}}), "app") is None
    assert _Handlers._waiting_reason(pod({"waiting": {"reason": "CrashLoopBackOff"}},
                                         {"terminated": {"exitCode": 1}}), "app") is None
