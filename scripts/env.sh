# Source this (bash): the project's venv, the built workspace, and DDS kept on this
# machine. Usage: source scripts/env.sh
_robot_db_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# colcon's and venv's scripts read unset variables: allow that while sourcing them
case $- in *u*) _robot_db_nounset=1; set +u ;; *) _robot_db_nounset= ;; esac
# shellcheck disable=SC1091
. "$_robot_db_root/.venv/bin/activate"
# shellcheck disable=SC1091
. "$_robot_db_root/ros2_ws/install/setup.bash"
[ -n "$_robot_db_nounset" ] && set -u
# colcon drops the venv from AMENT_PREFIX_PATH (it has no local_setup); rclpy needs it.
export AMENT_PREFIX_PATH="$AMENT_PREFIX_PATH:$VIRTUAL_ENV"
# DDS stays on loopback unless the caller already chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROBOT_DB_ROOT="$_robot_db_root"
unset _robot_db_root _robot_db_nounset
