#!/usr/bin/env bash
# Join this VM as a node with the control plane's join command, as a systemd unit so that the node
# process (agent + proxy) comes back after a reboot: `join --foreground` redoes the node network
# (cni0 and routes do not survive a reboot) and then execs the agent.
#
#   worker.sh NODE_NAME NODE_IP POD_CIDR
set -euo pipefail
name="$1"
node_ip="$2"
pod_cidr="$3"
join_file=/vagrant/.vagrant-join.sh

if [ ! -r "$join_file" ]; then
    echo "worker.sh: $join_file is missing: provision the control plane first (vagrant up cp), and use a" \
         "two-way synced folder (see vagrant/README.md)" >&2
    exit 1
fi
install -d -m 700 /etc/minikube-py
install -m 700 "$join_file" /etc/minikube-py/join.sh

cat > /etc/systemd/system/minikube-py-node.service <<UNIT
[Unit]
Description=minikube-py node ${name} (agent + proxy)
After=network-online.target docker.service minikube-py-control-plane.service
Wants=network-online.target
Requires=docker.service

[Service]
ExecStart=/bin/sh /etc/minikube-py/join.sh --node-name ${name} --node-ip ${node_ip} --pod-cidr ${pod_cidr} --foreground
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable minikube-py-node.service
systemctl restart minikube-py-node.service
echo "worker.sh: node ${name} (${node_ip}, pods ${pod_cidr}) started: journalctl -u minikube-py-node -f"
