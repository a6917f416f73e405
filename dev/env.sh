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
# Source this file (bash) to work in the dev environment: the venv (an ament prefix, so `ros2 pkg`
# and launch find the launch stack's packages), the colcon workspace, DDS discovery kept on this
# machine, and ROS logs in a temporary folder.
# shellcheck shell=bash
_yolov8_seg_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$_yolov8_seg_root/.venv/bin/activate"
# colcon's setup scripts read unset variables.
set +u
# shellcheck disable=SC1091
source "$_yolov8_seg_root/ws/install/setup.bash"
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$VIRTUAL_ENV:"*) ;;
  *) export AMENT_PREFIX_PATH="${AMENT_PREFIX_PATH:+$AMENT_PREFIX_PATH:}$VIRTUAL_ENV" ;;
esac
export PATH="$_yolov8_seg_root/ws/install/yolov8_seg_ros/lib/yolov8_seg_ros:$PATH"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# Large images between local processes: see the profile's comment (measured by make bench).
export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-$_yolov8_seg_root/config/fastdds_large_images.xml}"
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$FASTRTPS_DEFAULT_PROFILES_FILE}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$(mktemp -d -t yolov8_seg_roslog.XXXXXX)}"
export YOLO_OFFLINE=1 YOLO_VERBOSE="${YOLO_VERBOSE:-False}"
unset _yolov8_seg_root
