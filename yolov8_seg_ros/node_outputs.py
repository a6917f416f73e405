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
The node's publishers: created at configure, destroyed at cleanup; the frame step's sink.

The per-frame outputs are lifecycle publishers (they publish only while active); label_info is
latched. Each publisher gets a QoS profile of its own, since rclpy writes the
qos_overrides.<topic>.publisher.* values into the profile it is given.
"""

from __future__ import annotations

from typing import Any, Callable

from rclpy.lifecycle import LifecycleNode
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import Image, PointCloud2
from vision_msgs.msg import Detection2DArray, Detection3DArray, LabelInfo
from visualization_msgs.msg import MarkerArray

from yolov8_seg_ros.names import (DETECTIONS_3D_TOPIC, DETECTIONS_TOPIC, LABEL_INFO_TOPIC,
                                  MARKERS_TOPIC, MASK_TOPIC, OVERLAY_TOPIC, POINTS_TOPIC)

# topic -> (message type, a new QoS profile for it)
_PER_FRAME: dict[str, tuple[type, Callable[[], QoSProfile]]] = {
    DETECTIONS_TOPIC: (Detection2DArray, lambda: QoSProfile(depth=10)),
    MASK_TOPIC: (Image, lambda: QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)),
    OVERLAY_TOPIC: (Image, lambda: QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)),
}
_PER_FRAME_3D: dict[str, tuple[type, Callable[[], QoSProfile]]] = {
    DETECTIONS_3D_TOPIC: (Detection3DArray, lambda: QoSProfile(depth=10)),
    MARKERS_TOPIC: (MarkerArray, lambda: QoSProfile(depth=10)),
    POINTS_TOPIC: (PointCloud2, lambda: QoSProfile(depth=10)),
}


def latched_qos() -> QoSProfile:
    """Return a new transient-local profile (late subscribers get the last message)."""
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Outputs:
    """The node's publishers by topic; implements frame_step.FrameSink."""

    def __init__(self, node: LifecycleNode, with_3d: bool) -> None:
        self._node = node
        self._publishers: dict[str, Any] = {}
        self.label_info: Any = None
        try:  # a bad qos_overrides value raises: release what was created, then re-raise
            topics = {**_PER_FRAME, **(_PER_FRAME_3D if with_3d else {})}
            for topic, (msg_type, qos) in topics.items():
                self._publishers[topic] = node.create_lifecycle_publisher(
                    msg_type, f'~/{topic}', qos(),
                    qos_overriding_options=QoSOverridingOptions.with_default_policies())
            self.label_info = node.create_publisher(
                LabelInfo, f'~/{LABEL_INFO_TOPIC}', latched_qos(),
                qos_overriding_options=QoSOverridingOptions.with_default_policies())
        except BaseException:
            self.destroy()
            raise

    def publish(self, topic: str, msg: Any) -> None:
        """Publish on a per-frame output (only while active: lifecycle publishers)."""
        self._publishers[topic].publish(msg)

    def listened(self, topic: str) -> bool:
        """Return True when the output exists and someone subscribes to it."""
        publisher = self._publishers.get(topic)
        return publisher is not None and publisher.get_subscription_count() > 0

    def subscribed(self) -> bool:
        """Return True when anyone subscribes to a per-frame output (the lazy rule)."""
        return any(publisher.get_subscription_count() > 0
                   for publisher in self._publishers.values())

    def destroy(self) -> None:
        """Destroy every publisher (idempotent)."""
        for publisher in self._publishers.values():
            self._node.destroy_lifecycle_publisher(publisher)
        self._publishers.clear()
        if self.label_info is not None:
            self._node.destroy_publisher(self.label_info)
            self.label_info = None
