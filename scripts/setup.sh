#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for minikube-py: the host tools the project shells out to, then the
# Python package itself (editable, with test extras).
#
# Why a script and not a README paragraph: every machine (a developer's, CI's, a Vagrant VM) must end up
# with the same tools, and "I installed it by hand once" is how a green run hides a missing step.
# Safe to run twice: apt only installs what is missing, and `apt-get update` runs only when a package is
# missing and apt cannot find it yet.
set -euo pipefail

cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

# debootstrap: `minikube-py image bootstrap` builds the base image from the Debian mirror (no registry).
# iproute2/iptables/nftables/conntrack: node namespaces, bridges and Service rules.
# curl/dnsutils: what users (and e2e tests) poke the cluster with. ruby/shellcheck/vagrant: Vagrantfile and
# provisioning script checks (tests/unit/test_vagrant.py; `vagrant validate --ignore-provider` needs no
# VirtualBox or libvirt, so it runs here even though VMs can't).
packages=(debootstrap iproute2 iptables nftables curl dnsutils conntrack ruby shellcheck vagrant)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    # Update the package lists only when apt does not know one of the missing packages yet.
    for p in "${missing[@]}"; do
        if ! apt-cache show "$p" >/dev/null 2>&1; then
            echo "setup: apt-get update"
            $SUDO apt-get update -qq
            break
        fi
    done
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "setup: host packages already installed"
fi

echo "setup: pip install -e '.[test]'"
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check -e '.[test]'
echo "setup: done"
