#!/usr/bin/env bash
# Install everything, start a cluster and bring up the guide's flagship example (the counter app + redis),
# reachable through ClusterIP, NodePort, LoadBalancer (metallb addon) and Ingress (ingress addon).
# Prints the URLs to curl. Safe to run again: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
MK=(python3 -m minikube_py.cli)
K=("${MK[@]}" kubectl --)

"${MK[@]}" image bootstrap --alias-upstream
# --offline: every image the example needs was just built here, and a machine without a registry gains
# nothing from Docker asking one for a missing image (`minikube-py start --online` lets the nodes pull).
"${MK[@]}" start --offline

"${K[@]}" apply -f manifests/service/counter-redis-svc.yml -f manifests/service/counter-app.yml \
    -f manifests/service/counter-nodeport.yml -f manifests/service/counter-lb.yml

IP=$("${MK[@]}" ip)
NET=${IP%.*}
"${MK[@]}" addons enable metallb
"${MK[@]}" addons configure metallb --start-ip "$NET.100" --end-ip "$NET.110"
"${MK[@]}" addons enable ingress
sed "s/NODEIP/$IP/" manifests/ingress/counter-ingress.yml | "${K[@]}" apply -f -

"${K[@]}" rollout status deployment/redis --timeout=180s
"${K[@]}" rollout status deployment/counter --timeout=180s

LB=""
for _ in $(seq 60); do
    LB=$("${K[@]}" get svc counter-lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)
    [ -n "$LB" ] && break
    sleep 1
done
CLUSTER_IP=$("${K[@]}" get svc counter-np -o jsonpath='{.spec.clusterIP}')
HOST="counter.$IP.sslip.io"

# Wait until the NodePort answers (endpoints + rules settle within seconds).
for _ in $(seq 60); do curl -fsS -m 2 "http://$IP:31000/" >/dev/null 2>&1 && break; sleep 1; done

cat <<EOT

The counter app is up. Each request increments a counter kept in redis:

  ClusterIP     curl http://$CLUSTER_IP:3000/        (the host routes the service CIDR into the node)
                minikube-py kubectl -- exec deploy/counter -- curl -s localhost:3000
  NodePort      curl http://$IP:31000/
  LoadBalancer  curl http://${LB:-<pending>}:30000/
  Ingress       curl --resolve $HOST:80:$IP http://$HOST/

EOT
for url in "http://$CLUSTER_IP:3000/" "http://$IP:31000/" ${LB:+"http://$LB:30000/"}; do
    printf '  %-32s -> %s\n' "$url" "$(curl -fsS -m 5 "$url" 2>&1 || echo 'no answer yet')"
done
printf '  %-32s -> %s\n' "ingress $HOST" "$(curl -fsS -m 5 --resolve "$HOST:80:$IP" "http://$HOST/" 2>&1 || echo 'no answer yet')"
