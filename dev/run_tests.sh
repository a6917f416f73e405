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
# The whole test suite inside the ROS environment (NumPy 1.x, like the board): one pytest worker
# per core, each with its own ROS_DOMAIN_ID (test/conftest.py), discovery on localhost, ROS logs
# in a temporary folder. Then the tests of the modules that import no ROS run again under NumPy
# 2.x in .venv-numpy2. Extra arguments go to the first run only and skip the second
# (e.g. `make test ARGS="-k nms"`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROS_LOG_DIR="$(mktemp -d -t yolov8_seg_roslog.XXXXXX)"
export ROS_LOG_DIR
trap 'rm -rf "$ROS_LOG_DIR"' EXIT
# shellcheck disable=SC1091
source dev/env.sh
python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadgroup -p no:cacheprovider "$@"
[ $# -eq 0 ] || exit 0

ROS_FREE_TESTS=(test/test_postprocess.py test/test_preprocess.py test/test_backends.py
                test/test_node_modules.py test/test_model_accuracy.py)
echo "== the same pure-module tests under NumPy $(.venv-numpy2/bin/python -c \
  'import numpy; print(numpy.__version__)') (.venv-numpy2, no ROS) =="
PYTHONPATH="$ROOT" .venv-numpy2/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" \
  -p no:cacheprovider "${ROS_FREE_TESTS[@]}"
