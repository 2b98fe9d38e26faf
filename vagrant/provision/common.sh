#!/usr/bin/env bash
# Every VM: Docker, Python and the host tools scripts/setup.sh installs, the project in a virtualenv
# (linked as /usr/local/bin/minikube-py), and the images pods need. Safe to run again (`vagrant provision`).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Same host tools as scripts/setup.sh, plus Docker and Python's venv/pip.
packages=(docker.io python3-pip python3-venv ca-certificates
          debootstrap iproute2 iptables nftables curl dnsutils conntrack ruby)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
systemctl enable --now docker

# Pods on cni0 must pass the proxy's iptables rules (Docker loads it too; make it survive reboots).
modprobe br_netfilter || true
echo br_netfilter > /etc/modules-load.d/minikube-py.conf

# Debian 12 refuses system-wide pip installs (PEP 668): the project lives in its own venv.
venv=/opt/minikube-py/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
PIP_ROOT_USER_ACTION=ignore "$venv/bin/pip" install -q --disable-pip-version-check -e /vagrant
ln -sf "$venv/bin/minikube-py" /usr/local/bin/minikube-py

# Images: every node runs pods, so every node needs them. Built offline from the Debian mirror by
# default; MKPY_PULL_UPSTREAM=1 pulls the guide's upstream images instead (needs a registry).
if [ "${MKPY_PULL_UPSTREAM:-0}" = 1 ]; then
    for image in redis:latest busybox:latest nginx:latest ghcr.io/subicura/counter:latest \
                 ghcr.io/subicura/echo:v1 ghcr.io/subicura/echo:v2; do
        docker pull -q "$image"
    done
fi
minikube-py image bootstrap --alias-upstream
