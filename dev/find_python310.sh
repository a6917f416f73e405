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
# Print the path of a working Python 3.10 interpreter (the RDK X5 board's version), or exit 1.
# Looks on PATH, then in pyenv's versions and the usual prefixes.
set -u
candidates=(python3.10)
for root in "${PYENV_ROOT:-$HOME/.pyenv}/versions" /opt/python /usr/local/opt; do
  for dir in "$root"/3.10*; do [ -x "$dir/bin/python3.10" ] && candidates+=("$dir/bin/python3.10"); done
done
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
for candidate in "${candidates[@]}"; do
  if "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
exit 1
