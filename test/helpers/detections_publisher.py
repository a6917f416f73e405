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

"""Publish one known Detection2DArray repeatedly until killed (a second DDS participant)."""

import sys

from geometry_msgs.msg import PoseWithCovariance
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from vision_msgs.msg import (BoundingBox2D, Detection2D, Detection2DArray,
                             ObjectHypothesisWithPose)


def known_detections() -> Detection2DArray:
    """Five detections with distinct, exactly representable values."""
    array = Detection2DArray()
    array.header.stamp.sec = 1732406400
    array.header.stamp.nanosec = 123456789
    array.header.frame_id = 'camera_optical_frame'
    for i in range(5):
        detection = Detection2D()
        detection.header = array.header
        detection.id = str(i + 1)
        detection.bbox = BoundingBox2D()
        detection.bbox.center.position.x = 10.5 + i
        detection.bbox.center.position.y = 20.25 + 2 * i
        detection.bbox.center.theta = 0.0
        detection.bbox.size_x = 30.0 + i
        detection.bbox.size_y = 40.0 + i
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = ['person', 'bus', 'dog', 'cat', 'car'][i]
        hypothesis.hypothesis.score = 0.5 + 0.0625 * i
        hypothesis.pose = PoseWithCovariance()
        detection.results.append(hypothesis)
        array.detections.append(detection)
    return array


def main() -> None:
    rclpy.init(args=sys.argv)
    node = rclpy.create_node('detections_publisher')
    publisher = node.create_publisher(Detection2DArray, 'roundtrip/detections',
                                      QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    message = known_detections()
    node.create_timer(0.05, lambda: publisher.publish(message))
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
