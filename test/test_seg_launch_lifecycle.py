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
launch_testing: seg.launch.py lifecycle:=true, brought up by launch_ros ChangeState events.

The node starts unconfigured (autostart false); a ChangeState event configures it when its
process starts, and the StateTransition to inactive makes another activate it. The test sees
both transitions and the active node answering a frame.
"""

from pathlib import Path
import tempfile
import threading
import time
import unittest

from helpers.launch_stack import include_seg_launch, LaunchedNode, require_launch_stack
from helpers.launch_stack import ros2_cli
import pytest

require_launch_stack()

from helpers.bags import COMPRESSED, stamp_from, stamp_of  # noqa: E402, I100
from helpers.node_process import NodeClient, RELIABLE_INPUT_PARAMS  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import EmitEvent, OpaqueFunction  # noqa: E402
from launch.actions import RegisterEventHandler  # noqa: E402
from launch.event_handlers import OnProcessStart  # noqa: E402
from launch_ros.event_handlers import OnStateTransition  # noqa: E402
from launch_ros.events.lifecycle import ChangeState  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from test_node_bags import recorded_scenes  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix='seg_launch_lifecycle_'))
NAMESPACE = '/managed'
FQN = f'{NAMESPACE}/yolov8_seg'
try:  # launch_ros moved it after Humble, which has it in events.lifecycle only
    from launch_ros.events import matches_node_name
except ImportError:
    from launch_ros.events.lifecycle import matches_node_name
# Goal states of the StateTransition events launch saw (launch runs in a thread of this process).
REACHED: list[str] = []
REACHED_CHANGED = threading.Condition()


def record(state: str) -> OpaqueFunction:
    """Note in REACHED that launch saw the node reach state."""
    def note(context):
        with REACHED_CHANGED:
            REACHED.append(state)
            REACHED_CHANGED.notify_all()
    return OpaqueFunction(function=note)


def change_state(transition_id: int) -> EmitEvent:
    """Emit a launch_ros ChangeState event for this test's node."""
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_node_name(FQN),
                                       transition_id=transition_id))


@pytest.mark.launch_test
def generate_test_description():
    return LaunchDescription([
        include_seg_launch(WORK / 'params.yaml', RELIABLE_INPUT_PARAMS, namespace=NAMESPACE,
                           lifecycle='true'),
        # The LifecycleNode action waits for the node's change_state service itself.
        RegisterEventHandler(OnProcessStart(on_start=[change_state(
            Transition.TRANSITION_CONFIGURE)])),
        RegisterEventHandler(OnStateTransition(goal_state='inactive', entities=[
            record('inactive'), change_state(Transition.TRANSITION_ACTIVATE)])),
        RegisterEventHandler(OnStateTransition(goal_state='active', entities=[
            record('active')])),
        launch_testing.actions.ReadyToTest(),
    ])


class TestLifecycleNodeEvents(unittest.TestCase):

    def test_change_state_events_configure_and_activate_the_node(self):
        # Both transitions came back to launch as StateTransition events of its LifecycleNode.
        deadline = time.monotonic() + 90.0
        with REACHED_CHANGED:
            while 'active' not in REACHED and time.monotonic() < deadline:
                REACHED_CHANGED.wait(1.0)
            self.assertEqual(REACHED, ['inactive', 'active'])
        recorded = recorded_scenes(WORK / 'bag', 'jpeg', 1)[0]
        with ros_graph('lifecycle_events_client') as graph:
            client = NodeClient(graph, LaunchedNode(NAMESPACE), 'image', COMPRESSED)
            client.wait_ready()
            self.assertEqual(stamp_from(client.send_and_wait(recorded).header), stamp_of(0))
        self.assertIn('active [3]', ros2_cli('lifecycle', 'get', FQN, until='active'))

    def test_the_node_did_not_start_itself(self):
        # lifecycle:=true sets autostart false: the events above did the bring-up.
        self.assertIn('False', ros2_cli('param', 'get', FQN, 'autostart', until='Boolean'))


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
