"""A `start` that fails removes what it made (kind's rule), unless `--keep-on-failure`.

The failure is forced with `--wait-timeout 0.1` (no node is Ready that fast; before the DNS and agent
entry points exist, an earlier phase fails instead — either way `start` fails and must clean up).
"""
from __future__ import annotations

import os

import pytest

from minikube_py.config import ClusterConfig
from minikube_py.cluster import leftovers
from tests.conftest import run_cli
from tests.e2e.helpers import host_leftovers

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces, bridges and routes")]

PROFILE = "mkt-fail"


@pytest.fixture
def profile():
    leftovers.claim(PROFILE)
    try:
        yield PROFILE
    finally:
        run_cli("delete", "-p", PROFILE)
        leftovers.clean_profile(PROFILE)


def test_failed_start_cleans_up(profile) -> None:
    proc = run_cli("start", "-p", profile, "--wait-timeout", "0.1", "--no-image-bootstrap", timeout=180)
    assert proc.returncode != 0
    assert "Exiting due to" in proc.stderr
    assert "Start failed: stopping what was started" in proc.stdout
    cfg = ClusterConfig.load(profile)  # the state (and the logs) stay for a look
    # Stopped, not deleted: only the guard routes stay (nothing aimed at it may leave by the default route).
    assert host_leftovers(profile, cfg, stopped=True) == []
    status = run_cli("status", "-p", profile)
    assert status.returncode == 7


def test_keep_on_failure_keeps_it_until_delete(profile) -> None:
    proc = run_cli("start", "-p", profile, "--wait-timeout", "0.1", "--no-image-bootstrap",
                   "--keep-on-failure", timeout=180)
    assert proc.returncode != 0
    cfg = ClusterConfig.load(profile)
    kept = host_leftovers(profile, cfg)
    assert any(k.startswith("netns ") for k in kept) and any(k.startswith("link ") for k in kept), kept
    assert run_cli("delete", "-p", profile).returncode == 0
    assert host_leftovers(profile, cfg) == []
