# Where each ROS 2 distro's venv and colcon output live; sourced by scripts/setup.sh and
# scripts/env.sh, so both agree. Kilted keeps the paths it always had.
# shellcheck shell=bash
# robot_db_distro_paths DISTRO ROOT: sets ROBOT_DB_VENV and ROBOT_DB_WS; 1 if unknown.
robot_db_distro_paths() {
    case $1 in
        kilted) ROBOT_DB_VENV=$2/.venv ROBOT_DB_WS=$2/ros2_ws ;;
        jazzy) ROBOT_DB_VENV=$2/.local/jazzy/venv ROBOT_DB_WS=$2/.local/jazzy ;;
        *) return 1 ;;
    esac
}
