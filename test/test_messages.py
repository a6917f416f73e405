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


def test_3d_messages_join_the_2d_detection_by_id_and_carry_the_points():
    result = SegmentationResult(np.array([[1, 1, 4, 3], [4, 0, 6, 1]], np.float32),
                                np.array([0.9, 0.5], np.float32), np.array([2, 0], np.int32),
                                (), (8, 6))
    points = np.array([[0.1, -0.2, 2.0], [0.3, 0.0, 2.2]], np.float32)
    located = [Object3D(1, np.array([0.2, -0.1, 2.1]), np.array([0.2, 0.2, 0.2]), points)]
    header = Header(frame_id='depth_optical')
    names = ['a', 'b', 'c']
    msg = detections_3d_msg(located, result, header, names, 'id', track_ids=(17, 4))
    assert len(msg.detections) == 1
    d3 = msg.detections[0]
    assert d3.id == '4' and d3.header.frame_id == 'depth_optical'
    assert d3.results[0].hypothesis.class_id == '0'
    assert d3.results[0].hypothesis.score == pytest.approx(0.5)
    assert (d3.bbox.center.position.x, d3.bbox.center.position.z) == (0.2, 2.1)
    assert (d3.bbox.size.x, d3.bbox.center.orientation.w) == (0.2, 1.0)
    assert detections_3d_msg(located, result, header, names, 'id').detections[0].id == ''
    markers = markers_msg(located, result, header, names, track_ids=(17, 4)).markers
    assert [m.action for m in markers] == [Marker.DELETEALL, Marker.ADD, Marker.ADD]
    assert markers[2].text == '#4 a 2.11 m'
    cloud = points_msg(located, header, track_ids=(17, 4))
    assert (cloud.width, cloud.point_step, cloud.row_step) == (2, 20, 40)
    fields = {f.name: f.offset for f in cloud.fields}
    data = np.frombuffer(bytes(cloud.data), np.dtype(
        {'names': list(fields), 'formats': ['<f4', '<f4', '<f4', '<u4', '<u4'],
         'offsets': list(fields.values()), 'itemsize': 20}))
    np.testing.assert_array_equal(np.stack([data['x'], data['y'], data['z']], 1), points)
    assert data['instance'].tolist() == [2, 2] and data['track_id'].tolist() == [4, 4]
