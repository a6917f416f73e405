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
# The whole test suite, every test once per environment: the package built without symlinks and
# the whole suite (launch tests included) run once by `colcon test`, as on a ROS 2 install, in the
# ROS environment (NumPy 1.x, like the board): two pytest workers per core, each with its own
# ROS_DOMAIN_ID (test/conftest.py), discovery on localhost, ROS logs in a temporary folder. Beside
# it, the ROS-free tests of the pure modules under NumPy 2.x (.venv-numpy2) and under the board's
# Python 3.10 with NumPy 1.21 / OpenCV 4.5.4 (.venv-py310); their output follows the main run's.
# It ends with one summary block (each run's counts and time, the total) and the 15 slowest tests.
# With arguments it is one quick pytest run in the source tree instead (e.g.
# `make test ARGS="-k nms"`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROS_LOG_DIR="$(mktemp -d -t yolov8_seg_roslog.XXXXXX)"
RUN_LOGS="$(mktemp -d -t yolov8_seg_runs.XXXXXX)"
export ROS_LOG_DIR
trap 'rm -rf "$ROS_LOG_DIR" "$RUN_LOGS"' EXIT
# shellcheck disable=SC1091
source dev/env.sh
WORKERS="${PYTEST_WORKERS:-auto}"
# The whole suite waits much of its time on node start-up, discovery and the CLI: two workers per
# core overlap those waits (on 2 cores: 5:11 with 2 workers, 3:49 with 4, 4:33 with 6).
SUITE_WORKERS="${PYTEST_WORKERS:-$(( $(nproc) * 2 ))}"
if [ $# -gt 0 ]; then
  exec python -m pytest -n "$WORKERS" --dist loadgroup -p no:cacheprovider "$@"
fi

# The pure modules under NumPy 2 and Python 3.10; tests marked slow (accuracy measured over code
# that faster tests also run there: the rendered 3D scenes, model mAP, crowded 1080p masks) run
# in the main suite only.
ROS_FREE_TESTS=(test/test_postprocess.py test/test_preprocess.py test/test_backends.py
                test/test_backend_selection.py test/test_runtime_fakes.py
                test/test_evaluation.py test/test_tracking.py test/test_node_modules.py
                test/test_model_accuracy.py test/test_depth3d.py
                test/test_inference_process.py test/test_yolo26_decode.py
                test/test_yolo26_runtimes.py)
SUITE_STARTED=$SECONDS
STATUS=0
SUMMARY=()

run() {  # run NAME COMMAND...: run it with its output kept, and note its counts and time
  local name="$1" log started counts
  shift
  log="$RUN_LOGS/${#SUMMARY[@]}.log"
  started=$SECONDS
  echo "== $name =="
  if ! "$@" 2>&1 | tee "$log"; then STATUS=1; fi
  # pytest's closing line, e.g. '==== 217 passed, 1 skipped in 190.32s (0:03:10) ===='.
  counts="$(grep -aE '^=+ .*(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$log" \
    | tail -n 1 | sed -E 's/^=+ //; s/ in [0-9.]+s.*//')"
  SUMMARY+=("$(printf '%-58s %-34s %4ds' "$name" "${counts:-no pytest summary (see above)}" \
    $((SECONDS - started)))")
}

BESIDE=()  # "pid|name|log" of the runs started beside the main suite
run_beside() {  # run_beside NAME COMMAND...: start it in the background, its output kept
  local name="$1" log
  shift
  log="$RUN_LOGS/beside${#BESIDE[@]}.log"
  "$@" > "$log" 2>&1 &
  BESIDE+=("$!|$name|$log")
}
finish_beside() {  # wait for each run_beside run, show its output and note its counts and time
  local entry pid name log counts
  for entry in "${BESIDE[@]}"; do
    IFS='|' read -r pid name log <<< "$entry"
    if ! wait "$pid"; then STATUS=1; fi
    echo "== $name (ran beside the main suite) =="
    cat "$log"
    counts="$(grep -aE '^=+ .*(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$log" \
      | tail -n 1 | sed -E 's/^=+ //; s/ in [0-9.]+s.*//')"
    SUMMARY+=("$(printf '%-58s %-34s %4ds' "$name" "${counts:-no pytest summary (see above)}" \
      "$(sed -nE 's/.* in ([0-9]+)\.[0-9]+s.*/\1/p' "$log" | tail -n 1)")")
  done
}

# The ROS-free runs are CPU work while the main suite mostly waits on DDS: they run beside it,
# one worker each.
run_beside "NumPy $(.venv-numpy2/bin/python -c 'import numpy; print(numpy.__version__)') \
(.venv-numpy2, ROS-free tests)" \
  env PYTHONPATH="$ROOT" .venv-numpy2/bin/python -m pytest -n 1 --dist loadgroup \
  -p no:cacheprovider -m 'not slow' "${ROS_FREE_TESTS[@]}"
if [ -x .venv-py310/bin/python ]; then
  run_beside "$(.venv-py310/bin/python -c 'import sys, numpy, cv2; print(
    f"Python {sys.version.split()[0]}, NumPy {numpy.__version__}, OpenCV {cv2.__version__}")') \
(.venv-py310, ROS-free tests)" \
    env PYTHONPATH="$ROOT" .venv-py310/bin/python -m pytest -n 1 --dist loadgroup \
    -p no:cacheprovider -m 'not slow' "${ROS_FREE_TESTS[@]}"
else
  SUMMARY+=("Python 3.10 run skipped: no Python 3.10 interpreter on this machine")
fi

COLCON=build/colcon_test
colcon_build() {
  rm -rf "$COLCON"
  colcon --log-base "$COLCON/log" build --packages-select yolov8_seg_ros \
    --build-base "$COLCON/build" --install-base "$COLCON/install" \
    --event-handlers console_cohesion- status- summary+
}
colcon_test() {
  # shellcheck disable=SC1091
  source "$COLCON/install/local_setup.bash"
  colcon --log-base "$COLCON/log" test --packages-select yolov8_seg_ros \
    --build-base "$COLCON/build" --install-base "$COLCON/install" \
    --return-code-on-test-failure --event-handlers console_direct+ status- summary+ \
    --pytest-args -n "$SUITE_WORKERS" --dist loadgroup -p no:cacheprovider --durations=15
}
echo "== colcon build --packages-select yolov8_seg_ros (no symlinks) =="
if colcon_build > "$COLCON.build.log" 2>&1; then
  run "colcon test (the whole suite, launch tests included)" colcon_test
else
  cat "$COLCON.build.log"
  STATUS=1
  SUMMARY+=("colcon build failed: the whole suite did not run")
fi
finish_beside

echo
echo "== summary =="
printf '%s\n' "${SUMMARY[@]}"
elapsed=$((SECONDS - SUITE_STARTED))
total() {  # total WORD...: the sum of 'N WORD' over the runs' closing lines
  local pattern
  pattern="$(IFS='|'; echo "$*")"
  cat "$RUN_LOGS"/*.log | grep -aE '^=+ .* in [0-9.]+s' | grep -aoE "[0-9]+ ($pattern)\b" \
    | awk '{ n += $1 } END { print n + 0 }'
}
echo "time: $((elapsed / 60)) min $((elapsed % 60)) s in all"
# The plain closing line (failed counts pytest's errors too).
echo "total: $(total passed) passed, $(total failed errors error) failed, $(total skipped) skipped"
exit "$STATUS"
