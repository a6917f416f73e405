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
from geometry_msgs.msg import Pose
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
        detection.id = _track_label(track_ids, index)
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


def _track_id(track_ids: TrackIds, index: int) -> Optional[int]:
    """Return detection index's track id, or None (no tracking, or no confirmed track)."""
    return track_ids[index] if track_ids is not None else None


def _track_label(track_ids: TrackIds, index: int) -> str:
    """Return detection index's track id as Detection2D/3D.id: decimal, or empty without one."""
    track_id = _track_id(track_ids, index)
    return '' if track_id is None else str(track_id)


def detections_3d_msg(objects: Sequence[Object3D], result: SegmentationResult, header: Any,
                      class_names: Sequence[str], class_id_format: str,
                      track_ids: TrackIds = None) -> Detection3DArray:
    """
    Detection3DArray with one entry per 2D detection, in the 2D array's order.

    detections[i] belongs to Detection2DArray.detections[i] of the same frame (and to mask
    value i + 1), with or without tracking; id is the same track id string as the 2D one.
    A located detection has its class hypothesis and score (the 2D detection's) with the box
    centre as its pose, and bbox in metres in the depth image's optical frame: centre,
    orientation (a unit quaternion; the identity for axis-aligned boxes) and size along the
    box's own axes. A detection without 3D (too few valid depth samples) has no results and
    an all-zero bbox (size 0, identity orientation): check results before use. header: the
    colour frame's stamp with the depth image's frame_id.
    """
    detections = Detection3DArray()
    detections.header = header
    located = {o.index: o for o in objects}
    for k in range(len(result)):
        detection = Detection3D()
        detection.header = header
        detection.id = _track_label(track_ids, k)
        detection.bbox.center.orientation.w = 1.0
        found = located.get(k)
        if found is not None:
            hypothesis = _hypothesis(int(result.class_ids[k]), float(result.scores[k]),
                                     class_names, class_id_format)
            hypothesis.pose.pose = _pose(found)
            detection.results.append(hypothesis)
            detection.bbox.center = _pose(found)
            detection.bbox.size.x, detection.bbox.size.y, detection.bbox.size.z = (
                float(v) for v in found.size_xyz)
        detections.detections.append(detection)
    return detections


def _pose(located: Object3D) -> Pose:
    """Return the object's box centre and orientation as a geometry_msgs/Pose."""
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in located.center_xyz)
    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
     pose.orientation.w) = (float(v) for v in located.orientation_xyzw)
    return pose


def markers_msg(objects: Sequence[Object3D], result: SegmentationResult, header: Any,
                class_names: Sequence[str], track_ids: TrackIds = None) -> MarkerArray:
    """
    rviz2 markers: DELETEALL (no stale markers), then a box and a '#id class 1.23 m' text.

    The box is oriented as the object's; detection i's markers have ids 2 i and 2 i + 1.
    """
    markers = MarkerArray()
    clear = Marker()
    clear.header = header
    clear.action = Marker.DELETEALL
    markers.markers.append(clear)
    for located in objects:
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
            marker.id = 2 * k + offset
            marker.type = kind
            marker.action = Marker.ADD
            marker.color.r, marker.color.g, marker.color.b = red / 255, green / 255, blue / 255
            if kind == Marker.CUBE:
                marker.pose = _pose(located)
                marker.scale.x, marker.scale.y, marker.scale.z = (
                    max(float(v), 0.01) for v in located.size_xyz)
                marker.color.a = 0.4
            else:
                # Above the box (optical y points down), however the box is turned.
                marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = (
                    float(v) for v in located.center_xyz)
                marker.pose.orientation.w = 1.0
                marker.pose.position.y -= _half_height(located) + 0.1
                marker.scale.z = 0.15
                marker.color.a = 1.0
                marker.text = text
            markers.markers.append(marker)
    return markers


def _half_height(located: Object3D) -> float:
    """Return how far the object's box reaches above its centre along optical y (metres)."""
    x, y, z, w = (float(v) for v in located.orientation_xyzw)
    # The frame's y component of each box axis (row 1 of the rotation matrix).
    row = (2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w))
    return sum(abs(r) * float(s) for r, s in zip(row, located.size_xyz)) / 2.0


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
        cloud['track_id'][start:end] = _track_id(track_ids, located.index) or 0
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
