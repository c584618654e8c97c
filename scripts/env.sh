# Source this (bash): the project's venv, the built workspace, and DDS kept on this
# machine. Usage: source scripts/env.sh (ROS 2 Kilted), or for another distro set up
# with scripts/setup.sh --distro jazzy: export ROS_DISTRO_WHEELS=jazzy; source scripts/env.sh
# (exported first: bash drops a `VAR=value source ...` assignment when source returns,
# and scripts started from this shell would pick Kilted's paths again).
# One distro per shell: sourcing a second one on top mixes their paths.
# shellcheck shell=bash
_robot_db_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/distro_paths.sh
. "$_robot_db_root/scripts/distro_paths.sh"
if ! robot_db_distro_paths "${ROS_DISTRO_WHEELS:-kilted}" "$_robot_db_root"; then
    echo "env.sh: unknown ROS_DISTRO_WHEELS '$ROS_DISTRO_WHEELS': kilted or jazzy" >&2
    unset -f robot_db_distro_paths
    unset _robot_db_root
    return 1
fi
_robot_db_venv=$ROBOT_DB_VENV _robot_db_ws=$ROBOT_DB_WS
unset -f robot_db_distro_paths
unset ROBOT_DB_VENV ROBOT_DB_WS
# colcon's and venv's scripts read unset variables: allow that while sourcing them
case $- in *u*) _robot_db_nounset=1; set +u ;; *) _robot_db_nounset= ;; esac
# shellcheck disable=SC1091
. "$_robot_db_venv/bin/activate"
# shellcheck disable=SC1091
. "$_robot_db_ws/install/setup.bash"
[ -n "$_robot_db_nounset" ] && set -u
# colcon drops the venv from AMENT_PREFIX_PATH (it has no local_setup); rclpy needs it.
export AMENT_PREFIX_PATH="$AMENT_PREFIX_PATH:$VIRTUAL_ENV"
# DDS stays on loopback unless the caller already chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROBOT_DB_ROOT="$_robot_db_root"
# where the tests and scripts/run_pipeline.py find this distro's executables
export ROBOT_DB_INSTALL="$_robot_db_ws/install"
export ROS_DISTRO_WHEELS=${ROS_DISTRO_WHEELS:-kilted}
# the Python that runs the robomaster SDK (rm_driver's sdk.python), where setup made it
[ -x "$_robot_db_root/.local/robomaster-sdk/bin/python" ] && \
    export RM_SDK_PYTHON="$_robot_db_root/.local/robomaster-sdk/bin/python"
unset _robot_db_root _robot_db_venv _robot_db_ws _robot_db_nounset
