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


"""Building the node's ROS messages from a segmentation result and pipeline statistics."""

import math

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
import numpy as np
import pytest
from std_msgs.msg import Header
from visualization_msgs.msg import Marker
from yolov8_seg_ros.decode import InstanceMask, SegmentationResult
from yolov8_seg_ros.depth import Object3D
from yolov8_seg_ros.messages import (detections_3d_msg, detections_msg, diagnostics_msg,
                                     label_image_msg, markers_msg, points_msg)
from yolov8_seg_ros.render import render_instance_labels
from yolov8_seg_ros.runtime import PipelineStats


def test_detections_carry_track_ids_and_share_their_order_with_the_mask():
    masks = (InstanceMask(1, 1, np.full((2, 3), 255, np.uint8)),
             InstanceMask(4, 0, np.full((1, 2), 255, np.uint8)))
    result = SegmentationResult(np.array([[1, 1, 4, 3], [4, 0, 6, 1]], np.float32),
                                np.array([0.9, 0.5], np.float32), np.array([2, 0], np.int32),
                                masks, (8, 6))
    header = Header(frame_id='cam')
    msg = detections_msg(result, header, ['a', 'b', 'c'], 'name')
    assert [d.id for d in msg.detections] == ['', '']  # no tracking: vision_msgs' empty id
    tracked = detections_msg(result, header, ['a', 'b', 'c'], 'name', track_ids=(17, None))
    assert [d.id for d in tracked.detections] == ['17', '']  # the second is not confirmed yet
    assert [d.results[0].hypothesis.class_id for d in msg.detections] == ['c', 'a']
    assert msg.detections[0].bbox.center.position.x == 2.5
    assert msg.detections[0].bbox.size_y == 2.0
    assert detections_msg(result, header, ['a', 'b', 'c'], 'id').detections[0].results[0] \
        .hypothesis.class_id == '2'
    labels = label_image_msg(render_instance_labels(result), header)
    assert (labels.encoding, labels.width, labels.height, labels.step) == ('mono8', 8, 6, 8)
    values = np.frombuffer(bytes(labels.data), np.uint8).reshape(6, 8)
    assert (values == 1).sum() == 6 and (values == 2).sum() == 2
    big = np.zeros((2, 3), np.uint16)
    assert label_image_msg(big, header).encoding == 'mono16'
    assert label_image_msg(big, header).step == 6


def test_diagnostics_message():
    stats = PipelineStats(('inference',))
    empty = diagnostics_msg(stats.snapshot(), 'seg', 'onnxruntime', {'model': 'm'}, Time())
    assert empty.status[0].level == DiagnosticStatus.WARN
    assert empty.status[0].message == 'no images received yet'
    stats.frame_received(False)
    stats.frame_processed({'inference': 0.01}, 0.02)
    msg = diagnostics_msg(stats.snapshot(), 'seg', 'onnxruntime', {'model': 'm'}, Time())
    values = {kv.key: kv.value for kv in msg.status[0].values}
    assert values['frames_processed'] == '1' and values['model'] == 'm'
    assert values['inference_ms_p50'] == '10.00' and 'total_ms_p95' in values


def three_detections():
    """Three detections (classes 2, 0, 1); only the first and the last have 3D (index 0, 2)."""
    result = SegmentationResult(np.array([[1, 1, 4, 3], [4, 0, 6, 1], [0, 0, 2, 2]], np.float32),
                                np.array([0.9, 0.5, 0.4], np.float32),
                                np.array([2, 0, 1], np.int32), (), (8, 6))
    points = np.array([[0.1, -0.2, 2.0], [0.3, 0.0, 2.2]], np.float32)
    turned = np.array([0.0, math.sin(0.25), 0.0, math.cos(0.25)])  # 0.5 rad about optical y
    located = [Object3D(0, np.array([0.2, -0.1, 2.1]), np.array([0.2, 0.3, 0.1]), points),
               Object3D(2, np.array([-0.5, 0.4, 3.0]), np.array([0.6, 0.4, 0.0]), points[:1],
                        turned)]
    return result, located


@pytest.mark.parametrize('track_ids', [None, (17, None, 4)], ids=['tracking none', 'tracked'])
def test_the_3d_array_is_the_2d_array_entry_for_entry(track_ids):
    # detections_3d[i] belongs to detections[i], with or without tracking; a detection without
    # 3D (here the middle one) keeps its place with no results and an all-zero box.
    result, located = three_detections()
    header = Header(frame_id='depth_optical')
    names = ['a', 'b', 'c']
    detections_2d = detections_msg(result, Header(frame_id='cam'), names, 'id', track_ids)
    msg = detections_3d_msg(located, result, header, names, 'id', track_ids)
    assert len(msg.detections) == len(detections_2d.detections) == 3
    assert [d.id for d in msg.detections] == [d.id for d in detections_2d.detections]
    assert [d.id for d in msg.detections] == (['', '', ''] if track_ids is None
                                              else ['17', '', '4'])
    first, missing, last = msg.detections
    assert missing.results == [] and missing.header.frame_id == 'depth_optical'
    size = missing.bbox.size
    assert (size.x, size.y, size.z, missing.bbox.center.orientation.w) == (0.0, 0.0, 0.0, 1.0)
    for d3, d2 in ((first, detections_2d.detections[0]), (last, detections_2d.detections[2])):
        assert d3.results[0].hypothesis == d2.results[0].hypothesis  # class and score
        assert d3.results[0].pose.pose == d3.bbox.center
    assert (first.bbox.center.position.x, first.bbox.center.position.z) == (0.2, 2.1)
    assert (first.bbox.size.x, first.bbox.size.y, first.bbox.center.orientation.w) == \
        (0.2, 0.3, 1.0)
    orientation = last.bbox.center.orientation
    assert (orientation.x, orientation.z) == (0.0, 0.0)
    assert orientation.y == pytest.approx(math.sin(0.25))
    assert orientation.w == pytest.approx(math.cos(0.25))
    assert detections_3d_msg([], result, header, names, 'id').detections[1].results == []


def test_3d_markers_are_oriented_and_the_points_carry_their_detection():
    result, located = three_detections()
    header = Header(frame_id='depth_optical')
    markers = markers_msg(located, result, header, ['a', 'b', 'c'], track_ids=(17, None, 4))
    markers = markers.markers
    assert [m.action for m in markers] == [Marker.DELETEALL] + [Marker.ADD] * 4
    assert [m.id for m in markers[1:]] == [0, 1, 4, 5]  # 2 i and 2 i + 1 for detection i
    assert markers[2].text == '#17 c 2.11 m' and markers[4].text == '#4 b 3.07 m'
    cube = markers[3]
    assert cube.type == Marker.CUBE and cube.pose.orientation.y == pytest.approx(math.sin(0.25))
    assert (cube.scale.x, cube.scale.y, cube.scale.z) == (0.6, 0.4, 0.01)
    # The text sits above the turned box: half its height along optical y, and 0.1 m.
    assert markers[4].pose.position.y == pytest.approx(0.4 - 0.2 - 0.1)
    cloud = points_msg(located, header, track_ids=(17, None, 4))
    assert (cloud.width, cloud.point_step, cloud.row_step) == (3, 20, 60)
    fields = {f.name: f.offset for f in cloud.fields}
    data = np.frombuffer(bytes(cloud.data), np.dtype(
        {'names': list(fields), 'formats': ['<f4', '<f4', '<f4', '<u4', '<u4'],
         'offsets': list(fields.values()), 'itemsize': 20}))
    np.testing.assert_array_equal(np.stack([data['x'], data['y'], data['z']], 1),
                                  np.concatenate([located[0].points_xyz, located[1].points_xyz]))
    assert data['instance'].tolist() == [1, 1, 3] and data['track_id'].tolist() == [17, 17, 4]
