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
3D from depth over DDS: a rosbag2 bag of colour, depth and camera info replayed into the node.

Depth stamps are a few ms off the colour stamps, one depth frame is missing and two arrive out
of order; a second node gets every kind of bad depth input. The 2D outputs never wait for depth.
"""

from __future__ import annotations

from helpers.bags import (BagMessage, CAMERA_INFO, camera_info, depth_image, IMAGE,
                          image_from_bgr, message_class, raw_image, read_bag, stamp_from,
                          typestore, write_bag)
from helpers.depth_scenes import (add_noise, CAMERA, half_resolution, render_scene,
                                  to_millimetres)
from helpers.models import SHAPES_ONNX
from helpers.node_process import NodeClient, NodeProcess, RELIABLE, SHAPES_NAMES
from helpers.ros_graph import ros_graph
import numpy as np
from sensor_msgs.msg import PointCloud2
from vision_msgs.msg import Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray
from yolov8_seg_ros.names import sibling_camera_info

DEPTH_TOPIC = 'camera/depth/image_rect_raw'
INFO_TOPIC = sibling_camera_info(DEPTH_TOPIC)
DEPTH_FRAME = 'camera_depth_optical_frame'
PARAMS = {'model_path': str(SHAPES_ONNX), 'class_names_file': str(SHAPES_NAMES),
          'image_reliability': 'reliable', 'depth_topic': DEPTH_TOPIC,
          'diagnostics_period': 0.2}


def stamp_at(seconds: float) -> tuple[int, int]:
    whole = int(seconds)
    return whole, int(round((seconds - whole) * 1e9))


def write_in_order(path, messages):
    """Write a bag whose messages keep the given order (log times 1 us apart)."""
    return write_bag(path, [BagMessage(m.topic, m.msgtype, m.msg, 1000 * i)
                            for i, m in enumerate(messages)])


def replay(client, graph, node, messages):
    """Publish depth and camera info ahead of their colour frame; wait for each frame's 2D."""
    publishers = {topic: graph.node.create_publisher(message_class(kind),
                                                     f'{node.namespace}/{topic}', RELIABLE)
                  for topic, kind in ((DEPTH_TOPIC, IMAGE), (INFO_TOPIC, CAMERA_INFO))}
    for publisher in publishers.values():
        assert graph.spin_until(lambda p=publisher: p.get_subscription_count() > 0, 10.0)
    graph.spin_until(lambda: False, 0.5)
    frames = []
    for recorded in messages:
        if recorded.topic == 'image_raw':
            frames.append(client.send_and_wait(recorded))
        else:
            publishers[recorded.topic].publish(recorded.raw)
            graph.spin_until(lambda: False, 0.15)
    return frames


def test_bag_with_depth_gives_3d_detections_joined_to_the_2d_ones_by_id(tmp_path):
    store = typestore()
    scene = render_scene(3)
    half, camera = half_resolution(scene.depth_m)  # depth at 640x360 beside 1280x720 colour
    base = 1_700_000_000.0
    jitter_ms = [3, -5, 0, 6, -4]
    colour_stamps, frames = [], []
    for k, jitter in enumerate(jitter_ms):
        colour = stamp_at(base + 0.1 * k)
        depth = stamp_at(base + 0.1 * k + jitter / 1000.0)
        colour_stamps.append(colour)
        noisy = to_millimetres(add_noise(half, k))
        info = camera_info(store, camera, depth, DEPTH_FRAME)
        frames.append((BagMessage(INFO_TOPIC, CAMERA_INFO, info, 0),
                       BagMessage(DEPTH_TOPIC, IMAGE,
                                  depth_image(store, noisy, depth, DEPTH_FRAME), 0),
                       BagMessage('image_raw', IMAGE,
                                  image_from_bgr(store, scene.image_bgr, 'bgr8', colour), 0)))
    (info0, depth0, image0), (info1, depth1, image1), (info2, _, image2), \
        (info3, depth3, image3), (info4, depth4, image4) = frames
    # Frame 2's depth never came; frame 4's depth and info arrive before frame 3's.
    messages = [info0, depth0, image0, info1, depth1, image1, info2, image2,
                info4, depth4, info3, depth3, image3, image4]
    bag = write_in_order(tmp_path / 'bag', messages)
    node = NodeProcess('/depth3d', PARAMS)
    try:
        with ros_graph('depth3d_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            received = graph.collect(Detection3DArray, f'{node.fqn}/detections_3d', RELIABLE)
            markers = graph.collect(MarkerArray, f'{node.fqn}/markers', RELIABLE)
            points = graph.collect(PointCloud2, f'{node.fqn}/points', RELIABLE)
            client.wait_ready()
            detections = replay(client, graph, node, list(read_bag(bag)))
            assert [stamp_from(d.header) for d in detections] == colour_stamps
            assert graph.spin_until(lambda: len(received) >= 4 and len(points) >= 1, 10.0)
            values = client.wait_counter('frames_processed', 5)
            values = client.wait_counter('frames_depth_paired', 4)
        # Every frame has its 2D outputs; the one without depth has no 3D message.
        by_stamp = {stamp_from(m.header): m for m in received}
        assert sorted(by_stamp) == [colour_stamps[k] for k in (0, 1, 3, 4)]
        for detection_2d in detections:
            stamp = stamp_from(detection_2d.header)
            if stamp == colour_stamps[2]:
                continue
            located = by_stamp[stamp]
            assert located.header.frame_id == DEPTH_FRAME
            # 2D and 3D join entry for entry: the same id, class and score; an entry without
            # 3D has no results and a zero size.
            assert [d.id for d in located.detections] == \
                [d.id for d in detection_2d.detections]
            assert sum(1 for d in located.detections if d.id and d.results) >= 2
            for d2, d3 in zip(detection_2d.detections, located.detections):
                if not d3.results:
                    assert (d3.bbox.size.x, d3.bbox.size.y, d3.bbox.size.z) == (0.0, 0.0, 0.0)
                    continue
                assert (d3.results[0].hypothesis.class_id, d3.results[0].hypothesis.score) == \
                    (d2.results[0].hypothesis.class_id, d2.results[0].hypothesis.score)
                centre = np.array([d3.bbox.center.position.x, d3.bbox.center.position.y,
                                   d3.bbox.center.position.z])
                nearest = min(scene.objects,
                              key=lambda o: np.linalg.norm(o.center_xyz - centre))
                assert np.linalg.norm(nearest.center_xyz - centre) <= \
                    0.05 * nearest.distance_m
        assert values['frames_depth_unmatched'] == '1' and values['frames_depth_bad'] == '0'
        assert int(values['frames_depth_paired']) + int(values['frames_depth_unmatched']) + \
            int(values['frames_depth_bad']) == int(values['frames_processed'])
        # rviz2 markers: stale ones cleared, then a box and a '#id class 1.23 m' text each.
        assert markers and markers[-1].markers[0].action == Marker.DELETEALL
        texts = [m.text for m in markers[-1].markers if m.type == Marker.TEXT_VIEW_FACING]
        assert texts and all(t.endswith(' m') for t in texts) and texts[0].startswith('#')
        cloud = points[-1]
        assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'instance', 'track_id']
        assert cloud.width > 100 and cloud.header.frame_id == DEPTH_FRAME
        assert 'no depth image on /depth3d/camera/depth/image_rect_raw within 0.02 s' in \
            node.output()
        assert node.stop() == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_bad_depth_inputs_are_skipped_with_one_warning_each_and_2d_goes_on(tmp_path):
    store = typestore()
    scene = render_scene(3)
    depth_m = scene.depth_m
    camera = half_resolution(depth_m)[1]
    full = to_millimetres(depth_m)
    half = to_millimetres(half_resolution(depth_m)[0])

    def info(stamp, **bad):
        return camera_info(store, camera, stamp, DEPTH_FRAME, **bad)

    def depth(values, stamp):
        return depth_image(store, values, stamp, DEPTH_FRAME)

    def later(stamp):  # another clock: 5 s off
        return stamp[0] + 5, stamp[1]

    cases = [  # (depth message builder, camera info builder, expected warning, counter)
        (lambda s: raw_image(store, half.view(np.uint8), 640, 360, 'mono8', 1280, s,
                             DEPTH_FRAME), info, "depth encoding 'mono8'", 'bad'),
        (lambda s: raw_image(store, half.view(np.uint8).reshape(-1)[:1000], 640, 360, '16UC1',
                             1280, s, DEPTH_FRAME), info, 'data has 1000 bytes', 'bad'),
        (lambda s: depth(full[:480, :640], s), lambda s: info(s, size_wh=(640, 480)),
         'is not a scaled view of the colour image 1280x720', 'bad'),
        (lambda s: depth(half, s), lambda s: info(s, fx=0.0), 'focal length fx 0', 'bad'),
        (lambda s: depth(half, s), lambda s: camera_info(store, CAMERA, s, DEPTH_FRAME),
         'does not match the depth image', 'bad'),
        (lambda s: depth(np.zeros_like(half), s), info, 'detection(s) without 3D', 'paired'),
        (lambda s: depth(half, later(s)), lambda s: info(later(s)), 'no depth image on',
         'unmatched'),
        (lambda s: depth(half, s), info, None, 'paired'),
    ]
    messages = []
    for k, (make_depth, make_info, _, _) in enumerate(cases):
        stamp = stamp_at(1_700_000_100.0 + 0.1 * k)
        messages += [BagMessage(INFO_TOPIC, CAMERA_INFO, make_info(stamp), 0),
                     BagMessage(DEPTH_TOPIC, IMAGE, make_depth(stamp), 0),
                     BagMessage('image_raw', IMAGE,
                                image_from_bgr(store, scene.image_bgr, 'bgr8', stamp), 0)]
    bag = write_in_order(tmp_path / 'bag', messages)
    node = NodeProcess('/depth3d_bad', PARAMS)
    try:
        with ros_graph('depth3d_bad_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            received = graph.collect(Detection3DArray, f'{node.fqn}/detections_3d', RELIABLE)
            client.wait_ready()
            detections = replay(client, graph, node, list(read_bag(bag)))
            assert len(detections) == len(cases) and all(d.detections for d in detections)
            values = client.wait_counter('frames_processed', len(cases))
            values = client.wait_counter('frames_depth_paired', 2)
            assert graph.spin_until(lambda: len(received) == 2, 5.0)
        expected = {kind: sum(1 for *_, k in cases if k == kind)
                    for kind in ('paired', 'unmatched', 'bad')}
        assert {kind: int(values[f'frames_depth_{kind}']) for kind in expected} == expected
        assert sum(expected.values()) == int(values['frames_processed']) == len(cases)
        output = node.output()
        for _, _, warning, _ in cases:
            if warning:
                assert sum(warning in line for line in output.splitlines()) == 1, \
                    (warning, output)
        # All-zero depth: paired, nothing located: every entry says 'no 3D'.
        assert received[0].detections and not any(d.results for d in received[0].detections)
        assert received[1].detections
        assert node.process.poll() is None and node.stop() == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()
