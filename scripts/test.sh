#!/usr/bin/env bash
# The test command: for each ROS 2 distro the workspace is tested on (Kilted, then
# Jazzy, each with its own venv and colcon build), set up whatever is missing
# (scripts/setup.sh), then run every test with DDS on loopback and a domain id of its
# own. As root (CI), each distro's tests run in a private network namespace holding
# only loopback, so nothing can leave it. Exits non-zero if any distro fails.
#
#   scripts/test.sh                          # Kilted, then Jazzy
#   scripts/test.sh --distro jazzy -k foo    # one distro; other arguments go to pytest
#   ROS_DOMAIN_ID=40 scripts/test.sh         # domain ids 40 (Kilted) and 41 (Jazzy)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

distros=(kilted jazzy)
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --distro) distros=("${2:?--distro needs kilted, jazzy or all}"); shift 2 ;;
        --distro=*) distros=("${1#--distro=}"); shift ;;
        *) pytest_args+=("$1"); shift ;;
    esac
done
[ "${distros[*]}" = all ] && distros=(kilted jazzy)
for distro in "${distros[@]}"; do
    case "$distro" in kilted|jazzy) ;; *) echo "[test] unknown distro '$distro'" >&2; exit 2 ;; esac
done
[ -t 1 ] && pytest_args=(--color=yes "${pytest_args[@]}")  # kept through the tee below
domain=${ROS_DOMAIN_ID:-$(( RANDOM % 99 + 1 ))}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_tests() {  # distro domain pytest-args...: in a subshell, so each distro's env stays its own
    local distro=$1 var
    export ROS_DISTRO_WHEELS=$distro ROS_DOMAIN_ID=$2
    shift 2
    # A shell that sourced env.sh (maybe for the other distro): drop the project's paths
    # first, or that distro's libraries and packages would mix into this one's.
    for var in PATH PYTHONPATH LD_LIBRARY_PATH AMENT_PREFIX_PATH CMAKE_PREFIX_PATH \
            COLCON_PREFIX_PATH; do
        [ -n "${!var:-}" ] && export "$var=$(tr ':' '\n' <<<"${!var}" | grep -v "^$ROOT/" | paste -sd:)"
    done
    unset VIRTUAL_ENV
    # shellcheck disable=SC1091
    source scripts/env.sh
    export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
    echo "[test] ROS 2 $distro ($(python -c 'import platform; print("Python", platform.python_version())')), ROS_DOMAIN_ID=$ROS_DOMAIN_ID, DDS on loopback"
    if [ "$(id -u)" = 0 ]; then
        exec unshare --net sh -c 'ip link set lo up && exec python -m pytest "$@"' sh "$@"
    fi
    echo "[test] not root: no private network namespace; discovery stays LOCALHOST"
    exec python -m pytest "$@"
}

count() {  # count WORDS RESULT: the sum of "N word" in a pytest closing line
    { grep -oE "[0-9]+ ($1)" <<<"$2" || true; } | awk '{ n += $1 } END { print n + 0 }'
}

summaries=() failed=0 passed_n=0 failed_n=0 skipped_n=0
for distro in "${distros[@]}"; do
    printf '\n[test] ======== ROS 2 %s ========\n' "$distro"
    start=$(date +%s)
    status=0 result="setup failed"
    ROS_DISTRO_WHEELS=$distro bash scripts/setup.sh || status=$?
    tests_start=$(date +%s)
    if [ "$status" = 0 ]; then
        set +e
        (run_tests "$distro" "$domain" "${pytest_args[@]}") 2>&1 | tee "$log"
        status=${PIPESTATUS[0]}
        set -e
        # pytest's closing line, e.g. "=== 3 failed, 120 passed, 2 skipped in 301.2s ==="
        result=$(sed 's/\x1b\[[0-9;]*m//g' "$log" \
                 | grep -E '^(=+ )?([0-9]+ [a-z]+|no tests ran).* in [0-9.]+s' \
                 | tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true)
        passed_n=$(( passed_n + $(count passed "$result") ))
        failed_n=$(( failed_n + $(count 'failed|errors?' "$result") ))
        skipped_n=$(( skipped_n + $(count skipped "$result") ))
    fi
    [ "$status" = 0 ] || failed=1
    summaries+=("$(printf '%s: %s: %s (setup %d s, tests %d s)' "$distro" \
        "$([ "$status" = 0 ] && echo ok || echo "FAILED (exit $status)")" \
        "${result:-no pytest summary}" $(( tests_start - start )) $(( $(date +%s) - tests_start )))")
    echo "[test] ${summaries[-1]}"
    domain=$(( domain % 101 + 1 ))
done

printf '\n[test] ======== every distro ========\n'
printf '[test] %s\n' "${summaries[@]}"
echo "total: $passed_n passed, $failed_n failed, $skipped_n skipped"
exit "$failed"
