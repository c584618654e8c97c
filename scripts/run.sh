#!/usr/bin/env bash
# The main command: on a fresh machine, set up what is missing, start the private
# MariaDB (migrations and the manual's test_admin applied), start the pipeline
# (ros2 launch where it exists, else scripts/run_pipeline.py with the same
# parameters file), run the manual's scenario through ROS (session for
# test_admin, move 1 m forward at 0.5 m/s, end the session), print the session's
# rows and write its plots (PNG) and an MCAP file of it into .local/runs/<time>-<pid>/.
# Extra arguments go to the pipeline, e.g. robots:=ep01.
#
#   scripts/run.sh                  # sim robot /robot, private MariaDB on 127.0.0.1:7858
#   KEEP_RUNNING=1 scripts/run.sh   # leave the pipeline up afterwards (Ctrl-C stops it)
#   ROBOT_DB_PORT=7900 ROBOT_DB_DIR=/tmp/db scripts/run.sh   # another port and data directory
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf '[run] %s\n' "$*"; }

bash scripts/setup.sh
# shellcheck disable=SC1091
source scripts/env.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( RANDOM % 100 + 1 ))}
say "ROS_DOMAIN_ID=$ROS_DOMAIN_ID (export it in another terminal to watch the topics)"

port=${ROBOT_DB_PORT:-7858}
dbdir=${ROBOT_DB_DIR:-$ROOT/.local/mariadb}
"$ROBOT_DB_INSTALL"/robot_db_testing/lib/robot_db_testing/private_mariadb start \
    --dir "$dbdir" --port "$port" --migrate --seed
password_file=$dbdir/robot_user.password
# the nodes read the password from the environment; it never goes on a command line
ROBOT_DB_PASSWORD=$(cat "$password_file")
export ROBOT_DB_PASSWORD

mkdir -p .local/logs
log=.local/logs/pipeline-$(date +%Y%m%d-%H%M%S).log
# Job control on while the pipeline starts: without it bash starts a background job
# with SIGINT ignored, and `ros2 launch` would then never hear the SIGINT that stops it.
set -m
if command -v ros2 >/dev/null 2>&1 && ros2 launch --help >/dev/null 2>&1; then
    ros2 launch launch/pipeline.launch.py db_port:="$port" "$@" >"$log" 2>&1 &
else
    python scripts/run_pipeline.py db_port:="$port" "$@" >"$log" 2>&1 &
fi
pipeline=$!
set +m
# SIGINT to the launcher (what Ctrl-C sends) lets every node stop cleanly. Only if it
# is still there after a bounded wait: SIGTERM, then SIGKILL, to its whole process
# group (job control gave it one), so no node is orphaned and this never hangs.
stop_pipeline() {
    local signal target
    for signal in INT TERM KILL; do
        kill -0 "$pipeline" 2>/dev/null || break
        target=$pipeline
        [ "$signal" = INT ] || target=-$pipeline
        say "stopping the pipeline (SIG$signal to $target)"
        kill -"$signal" -- "$target" 2>/dev/null || true
        for _ in $(seq 1 150); do  # 15 s
            kill -0 "$pipeline" 2>/dev/null || break
            sleep 0.1
        done
    done
    wait "$pipeline" 2>/dev/null || true
}
trap stop_pipeline EXIT
trap 'exit 130' INT TERM  # Ctrl-C here: the EXIT trap stops the pipeline in order
say "pipeline started (pid $pipeline), log: $log"

# the scenario drives the first robot of robots:= (default: robot)
robot=robot
for arg in "$@"; do
    case "$arg" in robots:=*) robot=${arg#robots:=}; robot=${robot%%,*}; robot=${robot%%=*} ;; esac
done
if ! "$ROBOT_DB_INSTALL"/rm_driver/lib/rm_driver/scenario --robot "/$robot" --user-id test_admin \
        --distance 1.0 --speed 0.5 --timeout 30; then
    say "the scenario failed; the pipeline log follows"
    tail -n 40 "$log"
    exit 1
fi

# the session's rows and telemetry, its plots and an MCAP of it, in a directory of this run
# (the pid: two runs in the same second get two directories)
out=.local/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$out"
db_args=(--latest --port "$port" --password-file "$password_file")
"$ROBOT_DB_INSTALL"/db_logger/lib/db_logger/session_report "${db_args[@]}" --plots "$out"
"$ROBOT_DB_INSTALL"/db_logger/lib/db_logger/export "${db_args[@]}" "$out/session.mcap"
say "the session's plots and MCAP are in $out/ (ros2 bag play or Foxglove open the .mcap)"

if [ -n "${KEEP_RUNNING:-}" ]; then
    say "pipeline still running; Ctrl-C stops it"
    wait "$pipeline" || true
fi
stop_pipeline
say "done; the private MariaDB keeps running (source scripts/env.sh; python -m robot_db_testing.private_mariadb stop --dir $dbdir ends it)"
