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
from sensor_msgs.msg import Image, PointCloud2, PointField
from vision_msgs.msg import (Detection2D, Detection2DArray, Detection3D, Detection3DArray,
                             LabelInfo, ObjectHypothesisWithPose, VisionClass)
from visualization_msgs.msg import Marker, MarkerArray

from yolov8_seg_ros.decode import SegmentationResult
from yolov8_seg_ros.depth import Object3D
from yolov8_seg_ros.overlay import class_color
from yolov8_seg_ros.runtime import StatsSnapshot

TrackIds = Optional[Sequence[Optional[int]]]


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
        detection.results.append(_hypothesis(cls, score, class_names, class_id_format))
        detections.detections.append(detection)
    return detections


def _hypothesis(class_id: int, score: float, class_names: Sequence[str],
                class_id_format: str) -> ObjectHypothesisWithPose:
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = (class_names[class_id] if class_id_format == 'name'
                                      else str(class_id))
    hypothesis.hypothesis.score = float(score)
    return hypothesis


def _track_label(track_ids: TrackIds, index: int) -> str:
    track_id = track_ids[index] if track_ids is not None else None
    return '' if track_id is None else str(track_id)


def detections_3d_msg(objects: Sequence[Object3D], result: SegmentationResult, header: Any,
                      class_names: Sequence[str], class_id_format: str,
                      track_ids: TrackIds = None) -> Detection3DArray:
    """
    Detection3DArray of the located objects: box centre and size in metres, optical frame.

    The class hypothesis and score are the 2D detection's, and id its track id (the same
    string as in the 2D message: 2D and 3D join on id). header: the colour frame's stamp with
    the depth image's frame_id.
    """
    detections = Detection3DArray()
    detections.header = header
    for located in objects:
        k = located.index
        detection = Detection3D()
        detection.header = header
        detection.id = _track_label(track_ids, k)
        hypothesis = _hypothesis(int(result.class_ids[k]), float(result.scores[k]),
                                 class_names, class_id_format)
        x, y, z = (float(v) for v in located.center_xyz)
        hypothesis.pose.pose.position.x, hypothesis.pose.pose.position.y = x, y
        hypothesis.pose.pose.position.z = z
        detection.results.append(hypothesis)
        detection.bbox.center.position.x, detection.bbox.center.position.y = x, y
        detection.bbox.center.position.z = z
        detection.bbox.center.orientation.w = 1.0
        detection.bbox.size.x, detection.bbox.size.y, detection.bbox.size.z = (
            float(v) for v in located.size_xyz)
        detections.detections.append(detection)
    return detections


def markers_msg(objects: Sequence[Object3D], result: SegmentationResult, header: Any,
                class_names: Sequence[str], track_ids: TrackIds = None) -> MarkerArray:
    """rviz2 markers: DELETEALL (no stale markers), then a box and a '#id class 1.23 m' text."""
    markers = MarkerArray()
    clear = Marker()
    clear.header = header
    clear.action = Marker.DELETEALL
    markers.markers.append(clear)
    for number, located in enumerate(objects):
        k = located.index
        blue, green, red = class_color(int(result.class_ids[k]))
        track = _track_label(track_ids, k)
        distance = float(np.linalg.norm(located.center_xyz))
        text = f'{"#" + track + " " if track else ""}{class_names[int(result.class_ids[k])]} ' \
               f'{distance:.2f} m'
        for kind, offset in ((Marker.CUBE, 0), (Marker.TEXT_VIEW_FACING, 1)):
            marker = Marker()
            marker.header = header
            marker.ns = 'yolov8_seg'
            marker.id = 2 * number + offset
            marker.type = kind
            marker.action = Marker.ADD
            marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = (
                float(v) for v in located.center_xyz)
            marker.pose.orientation.w = 1.0
            marker.color.r, marker.color.g, marker.color.b = red / 255, green / 255, blue / 255
            if kind == Marker.CUBE:
                marker.scale.x, marker.scale.y, marker.scale.z = (
                    max(float(v), 0.01) for v in located.size_xyz)
                marker.color.a = 0.4
            else:
                marker.pose.position.y -= float(located.size_xyz[1]) / 2 + 0.1  # above it
                marker.scale.z = 0.15
                marker.color.a = 1.0
                marker.text = text
            markers.markers.append(marker)
    return markers


def delete_all_markers_msg(header: Any) -> MarkerArray:
    """rviz2 markers: one DELETEALL, sent when 3D output stops so no stale box stays on screen."""
    clear = Marker()
    clear.header = header
    clear.action = Marker.DELETEALL
    return MarkerArray(markers=[clear])


_POINT_FIELDS = (('x', PointField.FLOAT32), ('y', PointField.FLOAT32),
                 ('z', PointField.FLOAT32), ('instance', PointField.UINT32),
                 ('track_id', PointField.UINT32))


def points_msg(objects: Sequence[Object3D], header: Any,
               track_ids: TrackIds = None) -> PointCloud2:
    """
    PointCloud2 of every object's kept depth samples: x, y, z (m), instance, track_id.

    instance is the detection's mask value (index + 1, as in the mask image), track_id its
    track id (0: none).
    """
    count = sum(len(o.points_xyz) for o in objects)
    cloud = np.empty(count, dtype=[('x', '<f4'), ('y', '<f4'), ('z', '<f4'),
                                   ('instance', '<u4'), ('track_id', '<u4')])
    start = 0
    for located in objects:
        end = start + len(located.points_xyz)
        cloud['x'][start:end] = located.points_xyz[:, 0]
        cloud['y'][start:end] = located.points_xyz[:, 1]
        cloud['z'][start:end] = located.points_xyz[:, 2]
        cloud['instance'][start:end] = located.index + 1
        track = track_ids[located.index] if track_ids is not None else None
        cloud['track_id'][start:end] = track or 0
        start = end
    msg = PointCloud2()
    msg.header = header
    msg.height, msg.width = 1, count
    msg.fields = [PointField(name=name, offset=4 * k, datatype=kind, count=1)
                  for k, (name, kind) in enumerate(_POINT_FIELDS)]
    msg.is_bigendian = False
    msg.point_step = cloud.dtype.itemsize
    msg.row_step = msg.point_step * count
    msg.is_dense = True
    data = array.array('B')
    data.frombytes(cloud.tobytes())
    msg.data = data
    return msg


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
                    error: Optional[str] = None, idle: Optional[str] = None) -> DiagnosticArray:
    """
    Build a DiagnosticArray with one status: rates, counters, latencies and values.

    error (the node cannot go on) makes the level ERROR with that message; idle (why it takes
    no images on purpose: a lifecycle state, lazy without subscribers) makes it OK with that.
    """
    status = DiagnosticStatus()
    status.name = name
    status.hardware_id = hardware_id
    if error:
        status.level, status.message = DiagnosticStatus.ERROR, error
    elif idle:
        status.level, status.message = DiagnosticStatus.OK, idle
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
