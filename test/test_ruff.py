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

"""ruff, the project's fast linter, is clean over the repository."""

from pathlib import Path
import subprocess
import sys

from helpers import pip_only
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.linter
def test_ruff() -> None:
    ruff = Path(sys.executable).with_name('ruff')
    if not ruff.is_file():
        pytest.skip(pip_only('ruff'))
    result = subprocess.run([str(ruff), 'check', '--no-cache', str(ROOT)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
