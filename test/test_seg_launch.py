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

Every frame is answered with its own header; the launch ends with clean exit codes.
"""

from pathlib import Path
import tempfile
import unittest

from helpers.launch_stack import include_seg_launch, LaunchedNode, require_launch_stack
from helpers.launch_stack import seg_config_text
import pytest

require_launch_stack()

from helpers.bags import COMPRESSED, read_bag, stamp_from, stamp_of  # noqa: E402, I100
from helpers.node_process import NodeClient  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from launch import LaunchDescription  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from test_node_bags import scenes, write_scene_bag  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix='seg_launch_'))
NAMESPACE = '/launched'


@pytest.mark.launch_test
def generate_test_description():
    reliable = seg_config_text(('image_reliability: best_effort', 'image_reliability: reliable'))
    return LaunchDescription([
        include_seg_launch(WORK / 'seg.yaml', reliable, namespace=NAMESPACE),
        launch_testing.actions.ReadyToTest(),
    ])


class TestLaunchedNode(unittest.TestCase):

    def test_every_bag_frame_gets_detections_with_its_header(self):
        frames = scenes((640, 480), count=3)
        bag = write_scene_bag(WORK / 'bag', frames, 'jpeg')
        with ros_graph('launch_test_player') as graph:
            client = NodeClient(graph, LaunchedNode(NAMESPACE), 'image', COMPRESSED)
            client.wait_ready()
            for index, recorded in enumerate(read_bag(bag)):
                detections = client.send_and_wait(recorded)
                self.assertEqual(stamp_from(detections.header), stamp_of(index))
                if frames[index].instances:
                    self.assertTrue(detections.detections)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
