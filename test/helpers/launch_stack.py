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

import os
from pathlib import Path
import subprocess
import time
from typing import Any, Optional

import pytest

MISSING_REASON = ('ROS 2 launch / launch_ros / launch_testing are not importable here: `make '
                  'setup` installs them from ../shared/wheelhouse (they are not on PyPI); on a '
                  'ROS 2 install they come with ros-<distro>-launch-testing-ros')


def require_launch_stack() -> None:
    """Skip the calling test module (only it) without launch, launch_ros or launch_testing."""
    for module in ('launch', 'launch_ros', 'launch_testing'):
        pytest.importorskip(module, reason=MISSING_REASON, exc_type=ImportError)


def include_seg_launch(params_file: Path, params_text: str, **arguments: Optional[str]) -> Any:
    """
    Include the installed seg.launch.py as a user's launch file would, with a params file.

    The params file gets params_text; the launch arguments default to the shapes model over
    compressed input (arguments override or add to them; None leaves one to its default).
    """
    from ament_index_python.packages import get_package_share_directory
    from helpers.models import SHAPES_ONNX
    from helpers.node_process import SHAPES_NAMES
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    params_file.write_text(params_text)
    share = get_package_share_directory('yolov8_seg_ros')
    return IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'seg.launch.py')),
        launch_arguments={name: value for name, value in {
            'model_path': str(SHAPES_ONNX), 'input_transport': 'compressed',
            'class_names_file': str(SHAPES_NAMES), 'params_file': str(params_file),
            **arguments}.items() if value is not None}.items())


def seg_config_text(*replacements: tuple[str, str]) -> str:
    """Return the installed config/seg.yaml with each (old, new) replaced."""
    from ament_index_python.packages import get_package_share_directory
    text = Path(get_package_share_directory('yolov8_seg_ros'), 'config', 'seg.yaml').read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


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
