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
`ros2 launch yolov8_seg_ros seg.launch.py` as a user runs it, in a separate process.

A node that cannot start ends the launch non-zero with its FATAL line shown; use_rviz without
rviz2 fails before anything starts; Ctrl-C ends everything with exit 0; no process outlives it.
"""

import signal

from helpers.bags import COMPRESSED, stamp_from, stamp_of
from helpers.launch_stack import require_launch_stack
from helpers.models import SHAPES_ONNX
from helpers.node_process import LaunchProcess, NodeClient, RELIABLE_INPUT_PARAMS, SHAPES_NAMES
from helpers.ros_graph import ros_graph
import pytest
from test_node_bags import recorded_scenes

require_launch_stack()


def test_a_node_that_cannot_start_ends_the_launch_non_zero_with_its_fatal_line(tmp_path):
    launch = LaunchProcess({'model_path': tmp_path / 'missing.onnx', 'namespace': 'no_model'})
    try:
        assert launch.wait_exit(60.0) != 0
        output = launch.output()
        fatal = [line for line in output.splitlines() if 'FATAL' in line]
        assert len(fatal) == 1 and 'does not exist' in fatal[0], output
        assert 'yolov8_seg exited with code 1' in output
        assert not launch.leftover_processes(), output
    finally:
        launch.close()


def test_use_rviz_without_rviz2_starts_nothing_and_fails(tmp_path):
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    try:
        get_package_prefix('rviz2')
        pytest.skip('rviz2 is installed here, so this launch would start it')
    except PackageNotFoundError:
        pass
    launch = LaunchProcess({'model_path': SHAPES_ONNX, 'class_names_file': SHAPES_NAMES,
                            'namespace': 'no_rviz', 'use_rviz': True})
    try:
        assert launch.wait_exit(60.0) != 0
        output = launch.output()
        assert 'rviz2 is not installed' in output, output
        assert 'yolov8_seg_node' not in output, output  # nothing was started
        assert not launch.leftover_processes(), output
    finally:
        launch.close()


def test_ctrl_c_stops_the_launch_and_its_node_with_exit_0(tmp_path):
    recorded = recorded_scenes(tmp_path / 'bag', 'jpeg', 1)[0]
    params = tmp_path / 'params.yaml'
    params.write_text(RELIABLE_INPUT_PARAMS)
    launch = LaunchProcess({'model_path': SHAPES_ONNX, 'class_names_file': SHAPES_NAMES,
                            'input_transport': 'compressed', 'namespace': 'ctrl_c',
                            'params_file': params})
    try:
        with ros_graph('ctrl_c_client') as graph:
            client = NodeClient(graph, launch, 'image', COMPRESSED)
            client.wait_ready()
            assert stamp_from(client.send_and_wait(recorded).header) == stamp_of(0)
        # A terminal's Ctrl-C reaches every process of the foreground group at once.
        launch.signal_group(signal.SIGINT)
        assert launch.wait_exit(30.0) == 0, launch.output()
        output = launch.output()
        assert 'Traceback' not in output and 'exit code 1' not in output, output
        assert not launch.leftover_processes(), output
    finally:
        launch.close()
