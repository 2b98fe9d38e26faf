"""The Vagrant setup, checked without VMs (none can boot here: no box source, no KVM).

- every provisioning script passes `bash -n` and `shellcheck`;
- the Vagrantfile parses (`ruby -c`), and `vagrant validate` accepts it when the vagrant binary exists
  (it checks a multi-machine Vagrantfile without a box or a provider);
- the layout the scripts are given is the one the README promises: cp at .10, workers at .11, .12, …,
  each worker with its own pod /24, the join command written where workers read it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

VAGRANT = Path(__file__).resolve().parents[2] / "vagrant"
SCRIPTS = sorted((VAGRANT / "provision").glob("*.sh"))


def test_scripts_exist():
    assert {p.name for p in SCRIPTS} >= {"common.sh", "control-plane.sh", "worker.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_with_bash_n(script):
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck not installed (scripts/setup.sh installs it)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck(script):
    proc = subprocess.run(["shellcheck", "-x", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby not installed (scripts/setup.sh installs it)")
def test_vagrantfile_parses_with_ruby():
    proc = subprocess.run(["ruby", "-c", str(VAGRANT / "Vagrantfile")], capture_output=True, text=True)
    assert proc.returncode == 0 and "Syntax OK" in proc.stdout, proc.stderr


@pytest.mark.skipif(shutil.which("vagrant") is None,
                    reason="vagrant not installed (scripts/setup.sh installs it)")
@pytest.mark.parametrize("workers", ["1", "3"])
def test_vagrant_validate(workers, tmp_path):
    env = {**os.environ, "WORKERS": workers, "VAGRANT_HOME": str(tmp_path / "vagrant.d"),
           "VAGRANT_CHECKPOINT_DISABLE": "1"}
    # --ignore-provider: no VirtualBox/libvirt here; it still checks the machines, networks and that every
    # provisioning script path exists.
    proc = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=VAGRANT, capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    machines = re.findall(r"==> (\S+): Ignoring provider config", proc.stdout)
    assert machines == ["cp"] + [f"worker{i}" for i in range(1, int(workers) + 1)], proc.stdout


def test_vagrantfile_layout():
    text = (VAGRANT / "Vagrantfile").read_text()
    assert 'config.vm.box = "debian/bookworm64"' in text
    assert 'WORKERS = Integer(ENV["WORKERS"] || 2)' in text
    assert 'SUBNET = "192.168.56"' in text and 'CP_IP = "#{SUBNET}.10"' in text
    assert '"#{SUBNET}.#{10 + i}"' in text and '"10.244.#{i}.0/24"' in text
    for provider in ("virtualbox", "libvirt"):
        block = re.search(rf'provider "{provider}" do \|\w+\|(.*?)end', text, re.S)
        assert block and "cpus = 2" in block.group(1) and "memory = 2048" in block.group(1), provider
    assert 'synced_folder "..", "/vagrant"' in text


def test_join_file_is_written_where_workers_read_it_and_is_ignored():
    cp = (VAGRANT / "provision" / "control-plane.sh").read_text()
    worker = (VAGRANT / "provision" / "worker.sh").read_text()
    assert "/vagrant/.vagrant-join.sh" in cp and "/vagrant/.vagrant-join.sh" in worker
    assert "--foreground" in worker and "Restart=always" in worker
    gitignore = (VAGRANT.parent / ".gitignore").read_text().splitlines()
    assert ".vagrant-join.sh" in gitignore and ".vagrant/" in gitignore


def test_control_plane_joins_itself_with_the_first_pod_range():
    """The shell expression control-plane.sh uses for cp's pod /24, evaluated by bash."""
    out = subprocess.run(["bash", "-c", 'pod_cidr=10.244.0.0/16; echo "${pod_cidr%.*.*}.0.0/24"'],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "10.244.0.0/24"
