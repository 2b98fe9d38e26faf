"""`minikube-py status`: minikube's exit-code bit mask, its text blocks and its JSON (no cluster needed)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from minikube_py.cli.main import main
from minikube_py.cluster import lifecycle

RUNNING_CP = {"name": "p", "type": "Control Plane", "host": "Running", "kubelet": "Running",
              "apiserver": "Running", "dns": "Running", "kubeconfig": "Configured"}
STOPPED_CP = {"name": "p", "type": "Control Plane", "host": "Stopped", "kubelet": "Stopped",
              "apiserver": "Stopped", "dns": "Stopped", "kubeconfig": "Stopped"}
RUNNING_WORKER = {"name": "p-m02", "type": "Worker", "host": "Running", "kubelet": "Running"}
STOPPED_WORKER = {"name": "p-m02", "type": "Worker", "host": "Stopped", "kubelet": "Stopped"}


def test_exit_code_is_minikubes_bit_mask() -> None:
    """minikube's exitCode: 1 host, 2 kubelet/apiserver, 4 kubeconfig, or-ed over the nodes."""
    assert lifecycle.status_exit_code([RUNNING_CP, RUNNING_WORKER]) == 0
    assert lifecycle.status_exit_code([STOPPED_CP]) == 7
    assert lifecycle.status_exit_code([RUNNING_CP, STOPPED_WORKER]) == 3  # after `node stop m02`
    assert lifecycle.status_exit_code([RUNNING_CP | {"apiserver": "Stopped"}]) == 2
    assert lifecycle.status_exit_code([RUNNING_CP | {"kubeconfig": "Misconfigured"}]) == 4


def test_json_is_minikubes_status_struct() -> None:
    assert lifecycle.status_json([RUNNING_CP, STOPPED_WORKER]) == [
        {"Name": "p", "Host": "Running", "Kubelet": "Running", "APIServer": "Running",
         "Kubeconfig": "Configured", "Worker": False},
        {"Name": "p-m02", "Host": "Stopped", "Kubelet": "Stopped", "APIServer": "Irrelevant",
         "Kubeconfig": "Irrelevant", "Worker": True}]


def test_cli_prints_blocks_each_ending_with_a_blank_line_and_exits_with_the_mask(monkeypatch) -> None:
    blocks = [RUNNING_CP, STOPPED_WORKER]
    monkeypatch.setattr(lifecycle, "status", lambda name: (blocks, lifecycle.status_exit_code(blocks)))
    r = CliRunner().invoke(main, ["status", "-p", "p"])
    assert r.exit_code == 3, r.output
    assert r.output.endswith("p-m02\ntype: Worker\nhost: Stopped\nkubelet: Stopped\n\n")
    assert "kubeconfig: Configured\n\np-m02\n" in r.output


def test_cli_json_single_node_is_one_compact_object(monkeypatch) -> None:
    monkeypatch.setattr(lifecycle, "status", lambda name: ([RUNNING_CP], 0))
    r = CliRunner().invoke(main, ["status", "-p", "p", "-o", "json"])
    assert r.exit_code == 0, r.output
    assert r.output == ('{"Name":"p","Host":"Running","Kubelet":"Running","APIServer":"Running",'
                        '"Kubeconfig":"Configured","Worker":false}')
    assert json.loads(r.output)["Host"] == "Running"
