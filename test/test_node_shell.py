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
The lifecycle shell at its rclpy seams, driven from outside over DDS and with the real CLI.

Transitions a state does not offer (by id, as lifecycle managers send them, and by label);
transitions that fail (each reason logged once, shown in /diagnostics, nothing left behind);
rcl's own spellings of parameter values; image_reliability; QoS overrides per entity; rviz
markers cleared when 3D output stops; memory under a stream of oversized depth images.
"""

from __future__ import annotations

from pathlib import Path
import time

from helpers.bags import (BagMessage, CAMERA_INFO, camera_info, depth_image, IMAGE,
                          image_from_bgr, message_class, read_bag, typestore)
from helpers.depth_scenes import half_resolution, render_scene, to_millimetres
from helpers.launch_stack import require_launch_stack, ros2_cli
from helpers.node_process import NodeClient, NodeProcess, RELIABLE
from helpers.ros_graph import Lifecycle, ros_graph
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from test_lifecycle import SHAPES_PARAMS
from test_node_behaviour import assert_one_fatal_line
from test_node_depth import (DEPTH_FRAME, DEPTH_TOPIC, INFO_TOPIC, PARAMS as DEPTH_PARAMS,
                             stamp_at, write_in_order)
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray
from yolov8_seg_ros.parameters import rcl_yaml_load

require_launch_stack()

BEST_EFFORT = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
# lifecycle_msgs/Transition ids: 0 create .. 8 destroy (1 configure, 2 cleanup, 3 activate,
# 4 deactivate, 5/6/7 shutdown from unconfigured/inactive/active), 10.. the internal ones.
ALL_IDS = (*range(0, 9), 10, 11, 12, 99)
OFFERED = {'unconfigured': {1, 5}, 'inactive': {2, 3, 6}, 'active': {4, 7}}
LABELS = ('create', 'configure', 'cleanup', 'activate', 'deactivate', 'shutdown', 'destroy')
OFFERED_LABELS = {'unconfigured': {'configure', 'shutdown'},
                  'inactive': {'cleanup', 'activate', 'shutdown'},
                  'active': {'deactivate', 'shutdown'}}


def latest_status(client: NodeClient, contains: str, timeout_s: float = 10.0):
    """Wait for a diagnostics status whose message contains the text; returns the status."""
    def found() -> bool:
        return bool(client.diagnostics) and contains in client.diagnostics[-1].status[0].message
    assert client.graph.spin_until(found, timeout_s), \
        [d.status[0].message for d in client.diagnostics[-3:]]
    return client.diagnostics[-1].status[0]


def refuse_every_unoffered_transition(lifecycle: Lifecycle, state: str) -> int:
    """Send each transition the state does not offer, by id and by label; count them."""
    sent = 0
    for transition_id in ALL_IDS:
        if transition_id not in OFFERED[state]:
            assert lifecycle.change(transition_id) is False, (state, transition_id)
            sent += 1
    for label in LABELS:
        if label not in OFFERED_LABELS[state]:
            assert lifecycle.change(label=label) is False, (state, label)
            sent += 1
    assert lifecycle.state() == state
    return sent


def test_transitions_refused_or_failed_leave_the_node_alive_with_the_reason(tmp_path):
    latin1 = tmp_path / 'names_latin1.txt'
    latin1.write_bytes('carré\ncercle\ntriangle\nétoile\n'.encode('latin-1'))
    node = NodeProcess('/shell', {**SHAPES_PARAMS, 'autostart': False,
                                  'diagnostics_period': 0.2})
    try:
        with ros_graph('shell_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            lifecycle = Lifecycle(graph, node.fqn)
            warnings = refuse_every_unoffered_transition(lifecycle, 'unconfigured')
            output = node.output()
            assert output.count('refusing lifecycle transition') == warnings, output
            assert 'refusing lifecycle transition id 2: not available in state unconfigured ' \
                   '(available: configure (1), shutdown (5))' in output
            # A configure that fails: the reason once in the log and in /diagnostics, the node
            # unconfigured with no publisher left.
            for values, reason in (
                    ({'depth_topic': 'depth image'}, 'configure failed: RCLError: '),
                    ({'depth_topic': '', 'class_names_file': str(latin1)},
                     f"configure failed: class_names_file '{latin1}' is not UTF-8 text")):
                assert all(r.successful for r in client.set_parameters(**values))
                assert lifecycle.change(1) is False
                assert lifecycle.state() == 'unconfigured'
                assert node.output().count(reason) == 1, node.output()
                assert reason in latest_status(client, reason).message
                assert graph.node.count_publishers(f'{node.fqn}/detections') == 0
            assert 'Traceback' not in node.output()
            # Fixed: configure and activate work; the unoffered ones are refused in each state.
            assert all(r.successful for r in client.set_parameters(
                class_names_file=str(SHAPES_PARAMS['class_names_file'])))
            assert lifecycle.change(1) is True
            refuse_every_unoffered_transition(lifecycle, 'inactive')
            assert lifecycle.change(label='activate') is True
            refuse_every_unoffered_transition(lifecycle, 'active')
            assert graph.spin_until(
                lambda: graph.node.count_publishers(f'{node.fqn}/detections') == 1, 10.0)
            assert node.process.poll() is None
            assert lifecycle.change(label='shutdown') is True
        assert node.wait_exit(30.0) == 0, node.output()
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_image_reliability_is_what_the_subscription_uses_after_every_configure():
    node = NodeProcess('/reliab', {**SHAPES_PARAMS, 'image_reliability': 'reliable'})
    try:
        with ros_graph('reliability_client') as graph:
            lifecycle = Lifecycle(graph, node.fqn)
            NodeClient(graph, node, 'image_raw', IMAGE).wait_ready()
            for transition in ('deactivate', 'cleanup'):
                assert lifecycle.change(label=transition) is True
            # Read at startup: refused with the reason, not accepted and then ignored.
            refused = ros2_cli('param', 'set', node.fqn, 'image_reliability', 'best_effort',
                               until='Setting parameter failed')
            assert 'read-only' in refused or 'read at startup' in refused, refused
            for transition in ('configure', 'activate'):
                assert lifecycle.change(label=transition) is True

            def subscriptions() -> list:  # what `ros2 topic info -v` prints, from this client
                return graph.node.get_subscriptions_info_by_topic(f'{node.namespace}/image_raw')
            assert graph.spin_until(lambda: len(subscriptions()) == 1, 20.0)
            reliability = subscriptions()[0].qos_profile.reliability
        parameter = ros2_cli('param', 'get', node.fqn, 'image_reliability', until='value')
        assert 'reliable' in parameter and 'best_effort' not in parameter
        assert reliability == ReliabilityPolicy.RELIABLE, reliability
    finally:
        node.close()


# (spelling on the command line, what rcl sets): refused by a PyYAML reading before.
RCL_SPELLINGS = {'depth_max_stamp_diff': ('5e-3', 0.005), 'lazy': ('y', True),
                 'publish_overlay': ('Off', False), 'max_det': ('0x20', 32),
                 'conf_threshold': ('.3', 0.3)}


def test_values_rcl_accepts_in_its_own_spellings_start_the_node(tmp_path):
    params = tmp_path / 'spellings.yaml'
    params.write_text('/**:\n  ros__parameters:\n    depth_max: 1.5e1\n    depth_min: 2E-1\n'
                      '    agnostic_nms: yes\n')
    node = NodeProcess('/spell', {**SHAPES_PARAMS, **{name: text for name, (text, _)
                                                      in RCL_SPELLINGS.items()}},
                       params_file=params)
    try:
        with ros_graph('spelling_client') as graph:
            NodeClient(graph, node, 'image_raw', IMAGE).wait_ready()
        expected = {**{name: value for name, (_, value) in RCL_SPELLINGS.items()},
                    'depth_max': 15.0, 'depth_min': 0.2, 'agnostic_nms': True}
        dumped = ros2_cli('param', 'dump', node.fqn, until='ros__parameters')
        values = rcl_yaml_load(dumped)[node.fqn]['ros__parameters']
        assert {name: values[name] for name in expected} == expected
        for _name, (text, value) in RCL_SPELLINGS.items():  # our reading agrees with rcl's
            assert rcl_yaml_load(text) == value and type(rcl_yaml_load(text)) is type(value)
    finally:
        node.close()


def test_a_quoted_number_rcl_keeps_as_a_string_is_still_refused():
    node = NodeProcess('/quoted', {**SHAPES_PARAMS, 'conf_threshold': "'0.5'"})
    try:
        assert_one_fatal_line(node, "conf_threshold := '0.5': expected a double")
    finally:
        node.close()


def test_a_failed_autostart_gives_its_reason_as_the_one_fatal_line(tmp_path):
    latin1 = tmp_path / 'names.txt'
    latin1.write_bytes('carré\ncercle\ntriangle\nétoile\n'.encode('latin-1'))
    node = NodeProcess('/fatal', {**SHAPES_PARAMS, 'class_names_file': str(latin1)})
    try:
        assert_one_fatal_line(node, 'cannot start: configure failed: class_names_file '
                                    f"'{latin1}' is not UTF-8 text")
    finally:
        node.close()


def test_a_bad_qos_override_fails_configure_and_leaves_no_publisher(tmp_path):
    params = tmp_path / 'bad_qos.yaml'
    params.write_text('/**:\n  ros__parameters:\n    qos_overrides:\n'
                      '      /badqos/yolov8_seg/mask:\n        publisher:\n'
                      '          reliability: sometimes\n')
    node = NodeProcess('/badqos', {**SHAPES_PARAMS, 'autostart': False,
                                   'diagnostics_period': 0.2}, params_file=params)
    try:
        with ros_graph('bad_qos_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            lifecycle = Lifecycle(graph, node.fqn)
            assert lifecycle.change(label='configure') is False
            reason = 'configure failed: '
            status = latest_status(client, reason)
            assert 'sometimes' in status.message or 'reliability' in status.message, status
            graph.spin_until(lambda: False, 1.0)
            # The detections publisher was created before the mask one failed: released too.
            for topic in ('detections', 'mask', 'label_info'):
                assert graph.node.count_publishers(f'{node.fqn}/{topic}') == 0, topic
            assert lifecycle.state() == 'unconfigured'
            assert lifecycle.change(label='shutdown') is True
        assert node.wait_exit(30.0) == 0
        output = node.output()
        assert sum('configure failed' in line for line in output.splitlines()) == 1, output
        assert 'Traceback' not in output
    finally:
        node.close()


def test_a_lazy_subscription_that_cannot_be_made_ends_the_node_in_one_fatal_line(tmp_path):
    params = tmp_path / 'bad_image_qos.yaml'
    params.write_text('/**:\n  ros__parameters:\n    qos_overrides:\n'
                      '      /lazybad/image_raw:\n        subscription:\n'
                      '          history: sometimes\n')
    node = NodeProcess('/lazybad', {**SHAPES_PARAMS, 'lazy': True}, params_file=params)
    try:
        deadline = time.monotonic() + 60.0
        while 'active, lazy' not in node.output() and time.monotonic() < deadline:
            assert node.process.poll() is None, node.output()
            time.sleep(0.1)
        with ros_graph('lazy_bad_client') as graph:  # a subscriber: the timer subscribes
            graph.collect(Detection2DArray, f'{node.fqn}/detections', RELIABLE)
            assert_one_fatal_line(node, 'stopping: subscribe failed: RuntimeError: Unexpected '
                                        'QoS override for policy `history`: `sometimes`')
    finally:
        node.close()


def depth_frames(store, count: int, base: float, with_depth=lambda k: True):
    """Colour, depth and camera info of one rendered scene, stamped base + 0.1 k."""
    scene = render_scene(3)
    half, camera = half_resolution(scene.depth_m)
    messages = []
    for k in range(count):
        stamp = stamp_at(base + 0.1 * k)
        if with_depth(k):
            messages += [(INFO_TOPIC, CAMERA_INFO, camera_info(store, camera, stamp,
                                                               DEPTH_FRAME)),
                         (DEPTH_TOPIC, IMAGE, depth_image(store, to_millimetres(half), stamp,
                                                          DEPTH_FRAME))]
        messages.append(('image_raw', IMAGE, image_from_bgr(store, scene.image_bgr, 'bgr8',
                                                            stamp)))
    return messages


def rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    raise AssertionError('no VmRSS')


def test_depth_with_an_image_qos_override_markers_cleared_and_memory_bounded(tmp_path):
    store = typestore()
    # Frames 0, 1 and 3 with depth; frame 2 without (the depth stream stopped a moment).
    messages = depth_frames(store, 4, 1_700_000_300.0, with_depth=lambda k: k != 2)
    bag = write_in_order(tmp_path / 'bag', [BagMessage(t, k, m, 0) for t, k, m in messages])
    params = tmp_path / 'image_qos.yaml'
    # The image subscription's override (reliable) must not reach the depth subscriptions: the
    # depth camera publishes best effort.
    params.write_text('/**:\n  ros__parameters:\n    qos_overrides:\n'
                      '      /qosdepth/image_raw:\n        subscription:\n'
                      '          reliability: reliable\n')
    node = NodeProcess('/qosdepth', {**DEPTH_PARAMS, 'image_reliability': 'best_effort',
                                     'max_image_pixels': 1280 * 720},
                       params_file=params)
    try:
        with ros_graph('qos_depth_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE, masks=False)
            located = graph.collect(Detection3DArray, f'{node.fqn}/detections_3d', RELIABLE)
            markers = graph.collect(MarkerArray, f'{node.fqn}/markers', RELIABLE)
            depth_out = {topic: graph.node.create_publisher(
                message_class(kind), f'{node.namespace}/{topic}', BEST_EFFORT)
                for topic, kind in ((DEPTH_TOPIC, IMAGE), (INFO_TOPIC, CAMERA_INFO))}
            client.wait_ready()
            for publisher in depth_out.values():
                assert graph.spin_until(lambda p=publisher: p.get_subscription_count() > 0, 10.0)
            graph.spin_until(lambda: False, 0.5)
            for recorded in read_bag(bag):
                if recorded.topic == 'image_raw':
                    client.send_and_wait(recorded)
                    graph.spin_until(lambda: False, 0.3)
                else:
                    depth_out[recorded.topic].publish(recorded.raw)
                    graph.spin_until(lambda: False, 0.15)
            values = client.wait_counter('frames_depth_paired', 3)
            assert values['frames_depth_unmatched'] == '1'
            assert graph.spin_until(lambda: len(located) == 3, 10.0)
            assert graph.spin_until(lambda: len(markers) == 4, 10.0)
            # Boxes, then a lone DELETEALL for the frame without depth, then boxes again.
            actions = [[m.action for m in array.markers] for array in markers]
            assert actions[2] == [Marker.DELETEALL] and Marker.ADD in actions[3]
            assert Marker.ADD in actions[0] and Marker.ADD in actions[1]
            # Deactivate: the boxes on screen are deleted before the outputs go quiet.
            lifecycle = Lifecycle(graph, node.fqn)
            assert lifecycle.change(label='deactivate') is True
            assert graph.spin_until(lambda: len(markers) == 5, 10.0)
            assert [m.action for m in markers[4].markers] == [Marker.DELETEALL]
            assert lifecycle.change(label='activate') is True
            assert graph.spin_until(
                lambda: depth_out[DEPTH_TOPIC].get_subscription_count() > 0, 10.0)
            # Oversized depth images (over max_image_pixels) are refused on arrival: none is
            # held, so the node's memory stays flat (30 of them held were 180 MB).
            huge = np.full((1500, 2000), 1500, np.uint16)
            before = rss_mb(node.process.pid)
            for k in range(40):
                stamp = stamp_at(1_700_000_400.0 + 0.05 * k)
                msg = depth_image(store, huge, stamp, DEPTH_FRAME)
                depth_out[DEPTH_TOPIC].publish(_serialized(store, msg))
                graph.spin_until(lambda: False, 0.05)
            values = client.wait_counter('depth_images_refused', 30, timeout_s=30.0)
            time.sleep(0.5)
            grown = rss_mb(node.process.pid) - before
            assert grown < 60.0, (grown, values)
        assert node.stop() == 0
        output = node.output()
        assert sum('more than max_image_pixels' in line for line in output.splitlines()) == 1
        assert 'Traceback' not in output
    finally:
        node.close()


def _serialized(store, msg) -> bytes:
    return bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image'))
