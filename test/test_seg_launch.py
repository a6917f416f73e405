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
launch_testing: the node started through seg.launch.py processes a recorded bag.

Runs where ROS 2 launch is installed (colcon test on a ROS 2 machine). The pip-wheel ROS of the
dev machines has no launch, launch_ros nor launch_testing (they are not on PyPI), so it is
skipped there, saying so; test_node_bags.py covers the same node process without launch.
"""

import os
from pathlib import Path
import tempfile
import unittest

import pytest

REASON = ('ROS 2 launch / launch_testing are not installed (not on PyPI); this test runs on a '
          'ROS 2 install, e.g. colcon test on the board or a Humble/Jazzy PC')
pytest.importorskip('launch_testing', reason=REASON)
pytest.importorskip('launch_ros', reason=REASON)

from ament_index_python.packages import get_package_share_directory  # noqa: E402, I100
from helpers.bags import COMPRESSED, read_bag, stamp_from, stamp_of  # noqa: E402
from helpers.models import SHAPES_ONNX  # noqa: E402
from helpers.node_process import NodeClient, SHAPES_NAMES  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from test_node_bags import scenes, write_scene_bag  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix='seg_launch_'))
NAMESPACE = '/launched'


class _NodeView:
    """What NodeClient needs to know about a node it did not start."""

    namespace = NAMESPACE
    fqn = f'{NAMESPACE}/yolov8_seg'

    class process:  # noqa: N801 - mirrors subprocess.Popen's poll()
        @staticmethod
        def poll():
            return None

    @staticmethod
    def output() -> str:
        return '(see the launch output)'


@pytest.mark.launch_test
def generate_test_description():
    share = get_package_share_directory('yolov8_seg_ros')
    params = WORK / 'seg.yaml'
    params.write_text(Path(share, 'config', 'seg.yaml').read_text().replace(
        'class_names_file: ""', f'class_names_file: "{SHAPES_NAMES}"'))
    launch_file = os.path.join(share, 'launch', 'seg.launch.py')
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(launch_file), launch_arguments={
            'model_path': str(SHAPES_ONNX), 'input_transport': 'compressed',
            'namespace': NAMESPACE, 'params_file': str(params)}.items()),
        launch_testing.actions.ReadyToTest(),
    ])


class TestLaunchedNode(unittest.TestCase):

    def test_every_bag_frame_gets_detections_with_its_header(self):
        frames = scenes((640, 480), count=3)
        bag = write_scene_bag(WORK / 'bag', frames, 'jpeg')
        with ros_graph('launch_test_player') as graph:
            client = NodeClient(graph, _NodeView(), 'image', COMPRESSED)
            client.wait_ready()
            for index, recorded in enumerate(read_bag(bag)):
                detections = client.send_and_wait(recorded)
                self.assertEqual(stamp_from(detections.header), stamp_of(index))
                if frames[index].instances:
                    self.assertTrue(detections.detections)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_node_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
