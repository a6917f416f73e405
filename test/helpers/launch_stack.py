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

"""ROS 2's launch stack and command-line tools for tests: present, or a module-level skip."""

from __future__ import annotations

import subprocess
import time

import pytest

MISSING_REASON = ('ROS 2 launch / launch_ros / launch_testing are not importable here: `make '
                  'setup` installs them from ../shared/wheelhouse (they are not on PyPI); on a '
                  'ROS 2 install they come with ros-<distro>-launch-testing-ros')


def require_launch_stack() -> None:
    """Skip the calling test module (only it) without launch, launch_ros or launch_testing."""
    for module in ('launch', 'launch_ros', 'launch_testing'):
        pytest.importorskip(module, reason=MISSING_REASON, exc_type=ImportError)


def ros2_cli(*arguments: str, until: str = '', timeout_s: float = 20.0) -> str:
    """
    Run `ros2 ARGUMENTS --no-daemon` (no daemon process outlives a test); returns its output.

    Retried while the output lacks `until`: the CLI's own discovery may not yet see the node.
    """
    deadline = time.monotonic() + timeout_s
    # Without the daemon each call discovers the graph anew; `ros2 param` gives the node 1 s to
    # appear by default, too short on a loaded machine (it then says 'Node not found'), and
    # `ros2 lifecycle` waits 0.5 s for discovery.
    wait = {'param': ['--timeout', '10'],
            'lifecycle': ['--spin-time', '1.5'],
            'topic': ['--spin-time', '1.5']}.get(arguments[0], [])
    while True:
        result = subprocess.run(['ros2', *arguments, *wait, '--no-daemon'], capture_output=True,
                                text=True, timeout=timeout_s + 10)
        output = result.stdout + result.stderr
        done = result.returncode == 0 and until in output
        if done or time.monotonic() > deadline:
            assert done, f'ros2 {" ".join(arguments)} -> {result.returncode}:\n{output}'
            return output
        time.sleep(0.5)


class _RunningProcess:
    """Popen.poll() of a process that launch owns: running as far as the test can tell."""

    @staticmethod
    def poll() -> None:
        return None


class LaunchedNode:
    """What NodeClient needs to know about a yolov8_seg node that launch started."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.fqn = f'{namespace.rstrip("/")}/yolov8_seg'
        self.process = _RunningProcess()

    @staticmethod
    def output() -> str:
        return '(see the launch output above)'
