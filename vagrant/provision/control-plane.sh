#!/usr/bin/env bash
# The control-plane VM: `minikube-py init` (API server, controllers, DNS on this VM's address), a systemd
# unit that re-runs it at boot (init is idempotent), the join command for the workers in
# /vagrant/.vagrant-join.sh (gitignored: it holds the node token), a kubeconfig for the vagrant user,
# and this VM joins itself as the first node.
#
#   control-plane.sh ADVERTISE_IP POD_CIDR SERVICE_CIDR
set -euo pipefail
ip_addr="$1"
pod_cidr="${2:-10.244.0.0/16}"
service_cidr="${3:-10.96.0.0/12}"
init_args=(--advertise-address "$ip_addr" --pod-cidr "$pod_cidr" --service-cidr "$service_cidr")

join_command="$(minikube-py init "${init_args[@]}" --print-join-command-only | tail -n 1)"
case "$join_command" in
    "minikube-py join "*) ;;
    *) echo "control-plane.sh: init printed no join command" >&2; exit 1 ;;
esac

cat > /etc/systemd/system/minikube-py-control-plane.service <<UNIT
[Unit]
Description=minikube-py control plane (API server, controllers, DNS)
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/minikube-py init ${init_args[*]} --print-join-command-only
ExecStop=/usr/local/bin/minikube-py stop

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable minikube-py-control-plane.service

umask 077
cat > /vagrant/.vagrant-join.sh <<JOIN
#!/bin/sh
# Written by vagrant/provision/control-plane.sh; holds the node token (gitignored).
# Usage: sh .vagrant-join.sh --node-name NAME --node-ip IP --pod-cidr CIDR [--foreground]
exec $join_command "\$@"
JOIN

# `vagrant ssh cp -c 'minikube-py kubectl -- get nodes'` runs as vagrant: give it the admin kubeconfig.
install -d -o vagrant -g vagrant -m 700 /home/vagrant/.kube
install -o vagrant -g vagrant -m 600 /root/.kube/config /home/vagrant/.kube/config

# The control-plane VM is a node too (pods 10.244.0.0/24), joined exactly like the workers.
bash /vagrant/vagrant/provision/worker.sh cp "$ip_addr" "${pod_cidr%.*.*}.0.0/24"
