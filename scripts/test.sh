#!/usr/bin/env bash
# Install what the tests need (idempotent), build the images offline, then run the whole suite:
# unit (no root), integration (Docker, netns, iptables) and e2e (whole clusters, curl).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
python3 -m minikube_py.cli image bootstrap --alias-upstream
exec python3 -m pytest -q -p no:cacheprovider --durations=15 "$@" tests
