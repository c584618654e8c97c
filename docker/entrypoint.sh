#!/bin/bash
# Runs the command in the ROS 2 environment plus the built workspace, from the repo
# root (so `ros2 launch launch/pipeline.launch.py` and config/ resolve).
set -e
# shellcheck disable=SC1090
source "/opt/ros/$ROS_DISTRO/setup.bash"
# shellcheck disable=SC1091
source /opt/robot_db/ros2_ws/install/setup.bash
cd /opt/robot_db
exec "$@"
