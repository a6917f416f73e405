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


"""
seg.launch.py in a robot's bring-up, and its respawn and lifecycle arguments, run as a user does.

Without respawn the node's exit ends the whole bring-up that includes seg.launch.py (what the
README says); a bad respawn, respawn_delay or lifecycle value is refused before anything starts.
"""

import contextlib
import os
from pathlib import Path
import shutil
import signal
import subprocess
import tempfile
import time

from helpers.bags import COMPRESSED
from helpers.launch_stack import require_launch_stack
from helpers.models import SHAPES_ONNX
from helpers.node_process import LaunchProcess, NodeClient, RELIABLE_INPUT_PARAMS, SHAPES_NAMES
from helpers.ros_graph import ros_graph
import psutil
import pytest

require_launch_stack()

# A robot's bring-up: seg.launch.py beside another long-running process of the robot.
BRINGUP = """
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import ExecuteProcess, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource


def generate_launch_description():
    share = get_package_share_directory('yolov8_seg_ros')
    return LaunchDescription([
        ExecuteProcess(cmd=['sleep', '600'], name='rest_of_the_robot'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'seg.launch.py')),
            launch_arguments={ARGUMENTS}.items()),
    ])
"""


class _Bringup:
    """`ros2 launch BRINGUP_FILE` in its own session, its output in a temporary log."""

    def __init__(self, launch_file: Path, namespace: str) -> None:
        self.namespace = namespace  # of the included node: what NodeClient reads
        self.fqn = f'{namespace}/yolov8_seg'
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed by close())
            'w+', prefix='bringup_', suffix='.log')
        self.process = subprocess.Popen([shutil.which('ros2'), 'launch', str(launch_file)],
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def output(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text()

    def members(self) -> list[psutil.Process]:
        """Every live process of the bring-up's session but ros2 launch itself."""
        found = []
        for process in psutil.process_iter(['pid']):
            try:
                if os.getsid(process.info['pid']) == self.process.pid \
                        and process.info['pid'] != self.process.pid:
                    found.append(process)
            except (ProcessLookupError, PermissionError):
                continue
        return found

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()


def test_the_node_exiting_ends_the_bringup_that_includes_seg_launch(tmp_path):
    params = tmp_path / 'params.yaml'
    params.write_text(RELIABLE_INPUT_PARAMS)
    arguments = {'model_path': str(SHAPES_ONNX), 'class_names_file': str(SHAPES_NAMES),
                 'input_transport': 'compressed', 'namespace': 'bringup',
                 'params_file': str(params)}
    launch_file = tmp_path / 'bringup.launch.py'
    launch_file.write_text(BRINGUP.replace('{ARGUMENTS}', repr(arguments)))
    bringup = _Bringup(launch_file, '/bringup')
    try:
        with ros_graph('bringup_client') as graph:
            NodeClient(graph, bringup, 'image', COMPRESSED).wait_ready()
        robot = [p for p in bringup.members() if 'sleep' in ' '.join(p.cmdline())]
        nodes = [p for p in bringup.members()
                 if any(part.endswith('yolov8_seg_node') for part in p.cmdline())]
        assert len(robot) == 1 and len(nodes) == 1, bringup.output()
        nodes[0].kill()
        assert bringup.process.wait(timeout=60) != 0, bringup.output()
        deadline = time.monotonic() + 10.0
        while robot[0].is_running() and robot[0].status() != psutil.STATUS_ZOMBIE \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not robot[0].is_running() or robot[0].status() == psutil.STATUS_ZOMBIE, \
            'the rest of the bring-up outlived the node'
        assert 'yolov8_seg exited with code -9' in bringup.output(), bringup.output()
    finally:
        bringup.close()


@pytest.mark.parametrize('argument, value, expected', [
    ('respawn', 'maybe', 'launch argument respawn:=maybe: expected true or false'),
    ('respawn_delay', '-1', 'launch argument respawn_delay:=-1: expected seconds >= 0'),
    ('lifecycle', 'yes', 'launch argument lifecycle:=yes: expected true or false'),
])
def test_a_bad_bringup_argument_starts_nothing_and_fails(argument, value, expected):
    launch = LaunchProcess({'model_path': SHAPES_ONNX, 'class_names_file': SHAPES_NAMES,
                            'namespace': f'bad_{argument}', argument: value})
    try:
        assert launch.wait_exit(60.0) != 0
        output = launch.output()
        assert expected in output, output
        assert 'yolov8_seg_node' not in output, output  # nothing was started
        assert not launch.leftover_processes(), output
    finally:
        launch.close()
