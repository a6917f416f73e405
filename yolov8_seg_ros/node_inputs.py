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
The node's input side: the image subscription and, with depth, the depth and camera info ones.

They come and go together (activate, deactivate, the lazy rule). Each subscription gets a QoS
profile of its own, since rclpy writes qos_overrides.<topic>.subscription.* into the profile it
is given: an override for the image topic must not change the depth subscriptions.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from yolov8_seg_ros.depth_pairing import DepthPairing
from yolov8_seg_ros.names import INPUT_TOPICS, sibling_camera_info
from yolov8_seg_ros.parameters import StartupError


def sensor_qos(reliability: str = 'best_effort') -> QoSProfile:
    """Return a new sensor-data profile (keep last 5, volatile) with the given reliability."""
    return QoSProfile(history=qos_profile_sensor_data.history,
                      depth=qos_profile_sensor_data.depth,
                      reliability=(ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                                   else ReliabilityPolicy.BEST_EFFORT),
                      durability=qos_profile_sensor_data.durability)


def input_message_type(transport: str) -> type:
    """Return the message type of input_transport raw, compressed or hbmem."""
    if transport == 'raw':
        return Image
    if transport == 'compressed':
        return CompressedImage
    try:
        from hbm_img_msgs.msg import HbmMsg1080P
    except ImportError as error:
        raise StartupError('input_transport hbmem needs the TROS hbm_img_msgs package '
                           '(source the TogetheROS.Bot setup)') from error
    return HbmMsg1080P


class Inputs:
    """The subscriptions of one configured node; subscribe() and unsubscribe() are idempotent."""

    def __init__(self, node: Node, values: Mapping[str, Any], on_image: Callable[[Any], None],
                 max_diff_s: Callable[[], float], warn: Callable[[str], None]) -> None:
        self._node = node
        transport = values['input_transport']
        self._msg_type = input_message_type(transport)
        self.relative_topic = INPUT_TOPICS[transport]
        # Resolved now, so an invalid name fails configure with its reason.
        self.topic = node.resolve_topic_name(self.relative_topic)
        self._reliability = values['image_reliability']
        self._on_image = on_image
        self.pairing: Optional[DepthPairing] = None
        self._depth_topics = ('', '')
        if values['depth_topic']:
            self._depth_topics = (values['depth_topic'], values['depth_camera_info_topic']
                                  or sibling_camera_info(values['depth_topic']))
            self.pairing = DepthPairing(*(node.resolve_topic_name(t) for t in self._depth_topics),
                                        int(values['max_image_pixels']))
        self._max_diff_s = max_diff_s
        self._warn = warn
        self._subscriptions: list[Any] = []

    @property
    def subscribed(self) -> bool:
        """Return True while the image subscription exists."""
        return bool(self._subscriptions)

    def subscribe(self) -> None:
        """Create the image (and depth) subscriptions; a failure leaves none behind."""
        if self._subscriptions:
            return
        try:
            self._add(self._msg_type, self.relative_topic, self._on_image,
                      sensor_qos(self._reliability))
            if self.pairing is not None:
                depth_topic, info_topic = self._depth_topics
                self._add(Image, depth_topic, self._on_depth, sensor_qos())
                self._add(CameraInfo, info_topic, self._on_info, sensor_qos())
        except BaseException:
            self.unsubscribe()
            raise

    def _add(self, msg_type: type, topic: str, callback: Callable[[Any], None],
             qos: QoSProfile) -> None:
        self._subscriptions.append(self._node.create_subscription(
            msg_type, topic, callback, qos,
            qos_overriding_options=QoSOverridingOptions.with_default_policies()))

    def unsubscribe(self) -> None:
        """Destroy every subscription and forget the buffered depth (nothing held while idle)."""
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions.clear()
        if self.pairing is not None:
            self.pairing.clear()

    def _on_depth(self, msg: Any) -> None:
        problem = self.pairing.add_depth(msg, self._max_diff_s())
        if problem:
            self._warn(problem)

    def _on_info(self, msg: Any) -> None:
        self.pairing.add_info(msg, self._max_diff_s())
