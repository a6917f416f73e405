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
# 2.x (.venv-numpy2) and under the board's Python 3.10 with NumPy 1.21 / OpenCV 4.5.4
# (.venv-py310), and the package is built without symlinks and tested with `colcon test`, as on
# a ROS 2 install. Extra arguments go to the first run only and skip the others
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
                test/test_backend_selection.py test/test_runtime_fakes.py
                test/test_evaluation.py test/test_tracking.py test/test_node_modules.py
                test/test_model_accuracy.py)
echo "== the same pure-module tests under NumPy $(.venv-numpy2/bin/python -c \
  'import numpy; print(numpy.__version__)') (.venv-numpy2, no ROS) =="
PYTHONPATH="$ROOT" .venv-numpy2/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" \
  -p no:cacheprovider "${ROS_FREE_TESTS[@]}"

if [ -x .venv-py310/bin/python ]; then
  echo "== the same pure-module tests under $(.venv-py310/bin/python -c \
    'import sys, numpy, cv2; print(f"Python {sys.version.split()[0]}, NumPy {numpy.__version__},"
                                  f" OpenCV {cv2.__version__}")') (.venv-py310, the board's floor) =="
  PYTHONPATH="$ROOT" .venv-py310/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" \
    -p no:cacheprovider "${ROS_FREE_TESTS[@]}"
else
  echo "== skipped the Python 3.10 run: no Python 3.10 interpreter on this machine =="
fi

echo "== colcon build (no symlinks) + colcon test --packages-select yolov8_seg_ros =="
COLCON=build/colcon_test
rm -rf "$COLCON"
colcon --log-base "$COLCON/log" build --packages-select yolov8_seg_ros \
  --build-base "$COLCON/build" --install-base "$COLCON/install" \
  --event-handlers console_cohesion- status- summary+ > "$COLCON.build.log" 2>&1 \
  || { cat "$COLCON.build.log"; exit 1; }
# shellcheck disable=SC1091
source "$COLCON/install/local_setup.bash"
colcon --log-base "$COLCON/log" test --packages-select yolov8_seg_ros \
  --build-base "$COLCON/build" --install-base "$COLCON/install" \
  --return-code-on-test-failure --event-handlers console_direct+ status- summary+ \
  --pytest-args -n "${PYTEST_WORKERS:-auto}" -p no:cacheprovider
