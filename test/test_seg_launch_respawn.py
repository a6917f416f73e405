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
launch_testing: seg.launch.py with respawn:=true starts the node again after it is killed.

The restarted node answers frames; the launch still ends cleanly on shutdown.
"""

import os
from pathlib import Path
import signal
import tempfile
import time
import unittest

from helpers.launch_stack import include_seg_launch, LaunchedNode, require_launch_stack
import pytest

require_launch_stack()

from helpers.bags import COMPRESSED, stamp_from, stamp_of  # noqa: E402, I100
from helpers.node_process import NodeClient, RELIABLE_INPUT_PARAMS  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from launch import LaunchDescription  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import psutil  # noqa: E402
from test_node_bags import recorded_scenes  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix='seg_launch_respawn_'))
NAMESPACE = '/respawned'
RESPAWN_DELAY_S = 0.5


@pytest.mark.launch_test
def generate_test_description():
    return LaunchDescription([
        include_seg_launch(WORK / 'params.yaml', RELIABLE_INPUT_PARAMS, namespace=NAMESPACE,
                           respawn='true', respawn_delay=str(RESPAWN_DELAY_S)),
        launch_testing.actions.ReadyToTest(),
    ])


def node_pids() -> list[int]:
    """Process ids of this launch's yolov8_seg_node (found by its namespace remapping)."""
    pids = []
    for process in psutil.process_iter(['pid', 'cmdline']):
        command = process.info['cmdline'] or []
        if any(part.endswith('yolov8_seg_node') for part in command) \
                and f'__ns:={NAMESPACE}' in command:
            pids.append(process.info['pid'])
    return pids


class TestRespawn(unittest.TestCase):

    def test_a_killed_node_is_started_again_and_answers_frames(self):
        recorded = recorded_scenes(WORK / 'bag', 'jpeg', 1)[0]
        with ros_graph('respawn_client') as graph:
            client = NodeClient(graph, LaunchedNode(NAMESPACE), 'image', COMPRESSED)
            client.wait_ready()
            self.assertEqual(stamp_from(client.send_and_wait(recorded).header), stamp_of(0))
            first = node_pids()
            self.assertEqual(len(first), 1, first)
            os.kill(first[0], signal.SIGKILL)
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline and node_pids() in ([], first):
                time.sleep(0.1)
            restarted = node_pids()
            self.assertEqual(len(restarted), 1, 'the killed node was not started again')
            self.assertNotEqual(restarted, first)
            # The new process subscribes anew: send until it answers.
            count = len(client.detections)
            deadline = time.monotonic() + 60.0
            while len(client.detections) == count and time.monotonic() < deadline:
                client.send(recorded)
                graph.spin_until(lambda: len(client.detections) > count, 1.0)
            self.assertGreater(len(client.detections), count,
                               'the restarted node never answered a frame')
            self.assertEqual(stamp_from(client.detections[-1].header), stamp_of(0))
            self.assertEqual(node_pids(), restarted)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_the_restarted_node_exits_cleanly(self, proc_info):
        # proc_info keeps each action's last exit: the restarted process's.
        launch_testing.asserts.assertExitCodes(proc_info)
