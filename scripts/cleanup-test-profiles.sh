#!/usr/bin/env bash
# Remove what crashed test runs left behind: processes, containers, network namespaces, bridges, routes and
# FORWARD rules of test profiles (`mkt-*`, or the prefix given) whose test session is gone.
# Same code the test suite runs at session start (minikube_py/cluster/leftovers.py). Needs root.
#   scripts/cleanup-test-profiles.sh [PREFIX] [MIN_AGE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export MINIKUBE_PY_HOME="${MINIKUBE_PY_TEST_HOME:-/tmp/minikube-py-tests}"
python3 - "${1:-mkt-}" "${2:-600}" <<'PY'
import sys
from minikube_py.cluster.leftovers import remove_leftovers
for line in remove_leftovers(sys.argv[1], float(sys.argv[2])):
    print("removed", line)
PY
