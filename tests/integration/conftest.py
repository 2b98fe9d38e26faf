"""Fixtures shared by the integration modules: an embedded control plane, an API client for it, and a real
kubectl pointed at it.

`cp` is module-scoped (one control plane per module, started on 127.0.0.1 with a free port); a module that
needs other options overrides `cp_options` (e.g. `{"keep_events": 3000}`).
"""
from __future__ import annotations

import os
import subprocess

import pytest

from minikube_py.client import ApiClient
from minikube_py.controlplane import EmbeddedControlPlane


@pytest.fixture(scope="module")
def cp_options() -> dict:
    """Keyword arguments for the module's `EmbeddedControlPlane`."""
    return {}


@pytest.fixture(scope="module")
def cp(tmp_path_factory, cp_options):
    with EmbeddedControlPlane(tmp_path_factory.mktemp("cp"), **cp_options) as cp:
        yield cp


@pytest.fixture
async def client(cp):
    c = ApiClient(cp.url, token=cp.pki.admin_token, ca_file=cp.pki.ca_cert)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture(scope="module")
def kubectl(cp, tmp_path_factory):
    """`kubectl(*args, input=None, check=True)`: the real kubectl v1.33 against `cp`, with its own kubeconfig,
    cache and HOME in a scratch directory (also its working directory: `kubectl.dir`)."""
    from minikube_py.kubectl import kubectl_path

    binary = str(kubectl_path())
    d = tmp_path_factory.mktemp("kubectl")
    kubeconfig = cp.write_kubeconfig(d / "config")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(d / "cache"), "HOME": str(d)}

    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run([binary, "--cache-dir", str(d / "cache"), *args], env=env, input=input,
                           capture_output=True, text=True, timeout=60, cwd=d)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    run.binary, run.env, run.cache, run.dir = binary, env, d / "cache", d  # type: ignore[attr-defined]
    return run
