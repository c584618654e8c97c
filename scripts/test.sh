#!/usr/bin/env bash
# The test command: sets up whatever is missing (scripts/setup.sh), then runs every
# test with DDS on loopback and a domain id of its own. As root (CI), the tests run
# in a private network namespace holding only loopback, so nothing can leave it.
# Extra arguments go to pytest, e.g. scripts/test.sh -k migrations -x
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/setup.sh
# shellcheck disable=SC1091
source scripts/env.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( RANDOM % 100 + 1 ))}
echo "[test] ROS_DOMAIN_ID=$ROS_DOMAIN_ID, DDS on loopback"

if [ "$(id -u)" = 0 ]; then
    exec unshare --net sh -c 'ip link set lo up && exec python -m pytest "$@"' sh "$@"
fi
echo "[test] not root: no private network namespace; discovery stays LOCALHOST"
exec python -m pytest "$@"
