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
from std_msgs.msg import Header
from yolov8_seg_ros.decode import InstanceMask, SegmentationResult
from yolov8_seg_ros.messages import detections_msg, diagnostics_msg, label_image_msg
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
