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
The managed node as a bring-up drives it, over DDS with the real CLI tools.

`ros2 launch ... autostart:=false` then `ros2 lifecycle set` through every transition; lazy
subscriptions following a real subscriber; a QoS override from a params file; two cameras
from one launch.
"""

import shutil
import signal

from diagnostic_msgs.msg import DiagnosticArray
from helpers.bags import COMPRESSED, IMAGE, stamp_from, stamp_of
from helpers.launch_stack import require_launch_stack, ros2_cli
from helpers.models import SHAPES_ONNX
from helpers.node_process import LaunchProcess, NodeClient, NodeProcess, RELIABLE
from helpers.node_process import RELIABLE_INPUT_PARAMS, SHAPES_NAMES
from helpers.ros_graph import Lifecycle, ros_graph
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from test_node_bags import recorded_scenes
from vision_msgs.msg import Detection2DArray

require_launch_stack()

SHAPES_PARAMS = {'model_path': SHAPES_ONNX, 'class_names_file': SHAPES_NAMES}


def subscribed(graph, topic: str, expected: bool, timeout_s: float = 10.0) -> bool:
    """Wait until the node holds (or has dropped) its subscription to topic."""
    return graph.spin_until(lambda: (graph.node.count_subscribers(topic) > 0) == expected,
                            timeout_s)


def lifecycle(fqn: str, transition: str) -> None:
    ros2_cli('lifecycle', 'set', fqn, transition, until='Transitioning successful')


def state_of(fqn: str) -> str:
    """Return the state as `ros2 lifecycle get` prints it."""
    return ros2_cli('lifecycle', 'get', fqn, until='[').split()[0]


def test_every_transition_with_ros2_lifecycle_set(tmp_path):
    frames = recorded_scenes(tmp_path / 'bag_jpeg', 'jpeg', 4)
    other_model = tmp_path / 'other' / 'shapes.onnx'
    other_model.parent.mkdir()
    shutil.copy(SHAPES_ONNX, other_model)
    params = tmp_path / 'params.yaml'
    params.write_text(RELIABLE_INPUT_PARAMS)
    launch = LaunchProcess({**SHAPES_PARAMS, 'input_transport': 'compressed',
                            'namespace': 'managed', 'params_file': params,
                            'autostart': 'false'})
    image_topic = '/managed/image'
    try:
        with ros_graph('lifecycle_client') as graph:
            client = NodeClient(graph, launch, 'image', COMPRESSED)
            # Each transition's label once through `ros2 lifecycle set`, the repeats and the
            # state checks through a manager's service client (each CLI call takes seconds).
            manager = Lifecycle(graph, launch.fqn)
            # autostart false: unconfigured, no model, no image subscription, OK diagnostics.
            assert state_of(launch.fqn) == 'unconfigured'
            values = client.wait_counter('frames_received', 0)
            assert values['lifecycle_state'] == 'unconfigured'
            assert client.diagnostics[-1].status[0].level == b'\x00'
            assert not subscribed(graph, image_topic, True, 1.0)

            lifecycle(launch.fqn, 'configure')  # loads the model, publishes label_info
            assert manager.state() == 'inactive'
            assert not subscribed(graph, image_topic, True, 1.0)
            lifecycle(launch.fqn, 'activate')
            client.wait_ready()
            answered = [client.send_and_wait(frames[0])]

            lifecycle(launch.fqn, 'deactivate')  # no subscription, the model stays
            assert subscribed(graph, image_topic, False)
            count = len(client.detections)
            client.send(frames[1])
            graph.spin_until(lambda: False, 1.0)
            assert len(client.detections) == count, 'an output while inactive'
            assert client.wait_counter('frames_received', 1)['lifecycle_state'] == 'inactive'

            assert manager.change(label='activate')  # the first frame after re-activation
            assert subscribed(graph, image_topic, True)
            graph.spin_until(lambda: False, 0.5)
            answered.append(client.send_and_wait(frames[2]))

            # model_path changes only while unconfigured; a missing model fails configure with
            # the reason, the node stays unconfigured and usable.
            refused = ros2_cli('param', 'set', launch.fqn, 'model_path', str(other_model),
                               until='failed')
            assert 'model_path takes effect at configure' in refused
            assert manager.change(label='deactivate')
            lifecycle(launch.fqn, 'cleanup')
            missing = tmp_path / 'missing.onnx'
            ros2_cli('param', 'set', launch.fqn, 'model_path', str(missing), until='successful')
            # (`ros2 lifecycle set` says so and exits 0; the node logs the reason.)
            ros2_cli('lifecycle', 'set', launch.fqn, 'configure', until='Transitioning failed')
            assert manager.state() == 'unconfigured'
            assert f"configure failed: model file '{missing}' does not exist" in launch.output()
            ros2_cli('param', 'set', launch.fqn, 'model_path', str(other_model),
                     until='successful')
            assert manager.change(label='configure')
            assert manager.change(label='activate')
            assert state_of(launch.fqn) == 'active'
            assert subscribed(graph, image_topic, True)
            graph.spin_until(lambda: False, 0.5)
            answered.append(client.send_and_wait(frames[3]))
            assert [stamp_from(d.header) for d in answered] == \
                [stamp_of(0), stamp_of(2), stamp_of(3)]

            values = client.wait_counter('frames_processed', 3)
            assert values['model'] == str(other_model)
            assert values['lifecycle_state'] == 'active'
            # Counters add up across the cycles; the frame sent while inactive never arrived.
            assert int(values['frames_received']) == 3 == int(values['frames_processed']) + \
                int(values['frames_dropped']) + int(values['frames_bad']) + \
                int(values['frames_failed'])

            lifecycle(launch.fqn, 'shutdown')
        assert launch.wait_exit(30.0) == 0, launch.output()
        output = launch.output()
        assert 'Traceback' not in output, output
        assert not launch.leftover_processes(), output
    finally:
        launch.close()


def test_lazy_holds_no_image_subscription_until_an_output_has_a_subscriber(tmp_path):
    frames = recorded_scenes(tmp_path / 'bag_bgr8', 'bgr8', 2)
    node = NodeProcess('/lazy', {**SHAPES_PARAMS, 'lazy': True, 'image_reliability': 'reliable',
                                 'diagnostics_period': 0.2})
    try:
        with ros_graph('lazy_client') as graph:
            diagnostics = []
            graph.node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append,
                                           RELIABLE)
            publisher = graph.node.create_publisher(
                Image, '/lazy/image_raw',
                QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
            # Active but nobody listens: no image subscription, diagnostics OK and say why.
            assert graph.spin_until(lambda: any(
                d.status[0].name.startswith('/lazy/yolov8_seg') for d in diagnostics), 30.0), \
                node.output()
            assert not subscribed(graph, '/lazy/image_raw', True, 1.5)
            status = [d for d in diagnostics if d.status[0].name.startswith('/lazy/')][-1]
            assert status.status[0].message.startswith('active, lazy'), status
            assert status.status[0].level == b'\x00'

            # A subscriber to the detections brings the subscription back.
            detections = []
            subscription = graph.node.create_subscription(
                Detection2DArray, '/lazy/yolov8_seg/detections', detections.append, RELIABLE)
            assert subscribed(graph, '/lazy/image_raw', True, 5.0)
            graph.spin_until(lambda: False, 0.5)
            publisher.publish(frames[0].raw)
            assert graph.spin_until(lambda: bool(detections), 30.0), node.output()
            assert stamp_from(detections[0].header) == stamp_of(0)

            # It leaves: the node drops the image subscription again.
            graph.node.destroy_subscription(subscription)
            assert subscribed(graph, '/lazy/image_raw', False, 5.0)
        assert node.stop(signal.SIGINT) == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_a_qos_override_from_a_params_file_reaches_a_best_effort_camera(tmp_path):
    # image_reliability reliable would not match a best-effort camera; the standard ROS 2
    # override for the image subscription fixes it without touching the node's parameters.
    frames = recorded_scenes(tmp_path / 'bag_bgr8', 'bgr8', 1)
    params = tmp_path / 'qos.yaml'
    params.write_text(RELIABLE_INPUT_PARAMS +
                      '    qos_overrides:\n      /qos/image_raw:\n        subscription:\n'
                      '          reliability: best_effort\n')
    node = NodeProcess('/qos', SHAPES_PARAMS, params_file=params)
    try:
        with ros_graph('qos_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE, reliable_input=False)
            client.wait_ready()  # autostart (the default): configured and active by itself
            assert stamp_from(client.send_and_wait(frames[0]).header) == stamp_of(0)
            assert client.wait_counter('frames_processed', 1)['lifecycle_state'] == 'active'
        dumped = ros2_cli('param', 'get', node.fqn,
                          'qos_overrides./qos/image_raw.subscription.reliability',
                          until='best_effort')
        assert 'best_effort' in dumped
        assert node.stop(signal.SIGINT) == 0
    finally:
        node.close()


def test_shutdown_from_unconfigured_ends_the_process_with_exit_0():
    node = NodeProcess('/unused', {**SHAPES_PARAMS, 'autostart': False})
    try:
        assert state_of(node.fqn) == 'unconfigured'
        lifecycle(node.fqn, 'shutdown')
        assert node.wait_exit(30.0) == 0, node.output()
        assert 'Traceback' not in node.output()
    finally:
        node.close()


class _CameraNode:
    """What NodeClient needs of one node of a multi-camera launch."""

    def __init__(self, launch: LaunchProcess, namespace: str) -> None:
        self.namespace = namespace
        self.fqn = f'{namespace}/yolov8_seg'
        self.process = launch.process
        self.output = launch.output


def test_two_cameras_from_one_launch_each_answer_their_own_stream(tmp_path):
    frames = recorded_scenes(tmp_path / 'bag_jpeg', 'jpeg', 4)
    params = tmp_path / 'params.yaml'
    params.write_text(RELIABLE_INPUT_PARAMS)
    launch = LaunchProcess({**SHAPES_PARAMS, 'input_transport': 'compressed',
                            'cameras': 'front,rear', 'params_file': params})
    try:
        with ros_graph('cameras_client') as graph:
            front = NodeClient(graph, _CameraNode(launch, '/front'), 'image', COMPRESSED)
            rear = NodeClient(graph, _CameraNode(launch, '/rear'), 'image', COMPRESSED)
            front.wait_ready()
            rear.wait_ready()
            # Different scenes to each camera: each answers its own frames, only those.
            for index in (0, 2):
                assert stamp_from(front.send_and_wait(frames[index]).header) == stamp_of(index)
                assert stamp_from(rear.send_and_wait(frames[index + 1]).header) == \
                    stamp_of(index + 1)
            assert [stamp_from(d.header) for d in front.detections] == [stamp_of(0), stamp_of(2)]
            assert [stamp_from(d.header) for d in rear.detections] == [stamp_of(1), stamp_of(3)]
        launch.signal_group(signal.SIGINT)
        assert launch.wait_exit(30.0) == 0, launch.output()
        output = launch.output()
        assert output.count('process has finished cleanly') == 2, output
        assert 'Traceback' not in output, output
        assert not launch.leftover_processes(), output
    finally:
        launch.close()
