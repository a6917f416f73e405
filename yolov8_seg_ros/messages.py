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

"""SegmentationResult -> vision_msgs / sensor_msgs messages (no rclpy; header passed through)."""

from __future__ import annotations

import array
from typing import Any, Mapping, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from sensor_msgs.msg import Image
from vision_msgs.msg import (Detection2D, Detection2DArray, LabelInfo, ObjectHypothesisWithPose,
                             VisionClass)

from yolov8_seg_ros.decode import SegmentationResult
from yolov8_seg_ros.runtime import StatsSnapshot


def detections_msg(result: SegmentationResult, header: Any, class_names: Sequence[str],
                   class_id_format: str,
                   track_ids: Optional[Sequence[Optional[int]]] = None) -> Detection2DArray:
    """
    Detection2DArray in source pixels, in the result's order (detection i <-> mask value i + 1).

    Detection2D.id is the detection's track id as a decimal string, the same for one object
    across messages (vision_msgs' meaning of the field); empty without tracking, or while the
    detection belongs to no confirmed track yet.
    """
    detections = Detection2DArray()
    detections.header = header
    for index, (box, score, cls) in enumerate(zip(result.boxes_xyxy.tolist(),
                                                  result.scores.tolist(),
                                                  result.class_ids.tolist())):
        detection = Detection2D()
        detection.header = header
        track_id = track_ids[index] if track_ids is not None else None
        detection.id = '' if track_id is None else str(track_id)
        detection.bbox.center.position.x = (box[0] + box[2]) / 2.0
        detection.bbox.center.position.y = (box[1] + box[3]) / 2.0
        detection.bbox.size_x = box[2] - box[0]
        detection.bbox.size_y = box[3] - box[1]
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = (class_names[cls] if class_id_format == 'name'
                                          else str(cls))
        hypothesis.hypothesis.score = float(score)
        detection.results.append(hypothesis)
        detections.detections.append(detection)
    return detections


def stamp_seconds(header: Any) -> Optional[float]:
    """Return the header stamp in seconds (the tracker's clock); None when it is unset (0)."""
    stamp = header.stamp
    if stamp.sec == 0 and stamp.nanosec == 0:
        return None
    return stamp.sec + stamp.nanosec * 1e-9


def image_msg(image: np.ndarray, header: Any, encoding: str) -> Image:
    """Convert a numpy image to sensor_msgs/Image with the given header and encoding."""
    image = np.ascontiguousarray(image)
    msg = Image()
    msg.header = header
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(image.strides[0])
    # rclpy takes an array.array('B') as is; any other sequence is checked byte by byte.
    data = array.array('B')
    data.frombytes(image.reshape(-1).view(np.uint8).data)
    msg.data = data
    return msg


def label_image_msg(labels: np.ndarray, header: Any) -> Image:
    """uint8 labels -> mono8, uint16 -> mono16."""
    return image_msg(labels, header, 'mono8' if labels.dtype == np.uint8 else 'mono16')


def label_info_msg(class_names: Sequence[str], threshold: float, header: Any) -> LabelInfo:
    """vision_msgs/LabelInfo with the class map (class id -> name)."""
    info = LabelInfo()
    info.header = header
    info.threshold = float(threshold)
    for class_id, name in enumerate(class_names):
        entry = VisionClass()
        entry.class_id = class_id
        entry.class_name = name
        info.class_map.append(entry)
    return info


def diagnostics_msg(snapshot: StatsSnapshot, name: str, hardware_id: str,
                    values: Mapping[str, str], stamp: Any,
                    error: Optional[str] = None) -> DiagnosticArray:
    """
    Build a DiagnosticArray with one status: rates, counters, latencies and values.

    error (the node cannot go on) makes the level ERROR with that message.
    """
    status = DiagnosticStatus()
    status.name = name
    status.hardware_id = hardware_id
    if error:
        status.level, status.message = DiagnosticStatus.ERROR, error
    elif snapshot.received == 0:
        status.level, status.message = DiagnosticStatus.WARN, 'no images received yet'
    elif snapshot.input_hz == 0.0:
        status.level, status.message = DiagnosticStatus.WARN, 'no images in the last seconds'
    else:
        status.level = DiagnosticStatus.OK
        status.message = (f'{snapshot.input_hz:.1f} Hz in, {snapshot.output_hz:.1f} Hz out')
    pairs = [('input_rate_hz', f'{snapshot.input_hz:.2f}'),
             ('output_rate_hz', f'{snapshot.output_hz:.2f}'),
             ('frames_received', str(snapshot.received)),
             ('frames_processed', str(snapshot.processed)),
             ('frames_dropped', str(snapshot.dropped)),
             ('frames_bad', str(snapshot.bad)),
             ('frames_failed', str(snapshot.failed)),
             ('frames_in_progress', str(snapshot.in_progress)),
             ('stalled_s', f'{snapshot.stalled_s:.2f}'),
             ('frames_with_overlay', str(snapshot.overlays))]
    for stage, latency in snapshot.latency.items():
        pairs += [(f'{stage}_ms_p50', f'{latency.p50_ms:.2f}'),
                  (f'{stage}_ms_p95', f'{latency.p95_ms:.2f}'),
                  (f'{stage}_ms_max', f'{latency.max_ms:.2f}')]
    pairs += list(values.items())
    status.values = [KeyValue(key=key, value=value) for key, value in pairs]
    message = DiagnosticArray()
    message.header.stamp = stamp
    message.status = [status]
    return message
