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

"""The environment is real: a Detection2DArray crosses DDS between two processes intact."""

from pathlib import Path
import subprocess
import sys

from helpers.detections_publisher import known_detections
from helpers.ros_graph import ros_graph
from rclpy.qos import QoSProfile, ReliabilityPolicy
from vision_msgs.msg import Detection2DArray


def test_detection_array_crosses_processes_intact() -> None:
    publisher = subprocess.Popen([sys.executable, '-m', 'helpers.detections_publisher'],
                                 cwd=str(Path(__file__).resolve().parent))
    try:
        with ros_graph('roundtrip_listener') as graph:
            received = graph.collect(Detection2DArray, 'roundtrip/detections',
                                     QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
            assert graph.spin_until(lambda: len(received) > 0, timeout_s=30.0), \
                'no Detection2DArray received from the publisher process within 30 s'
    finally:
        publisher.terminate()
        publisher.wait(timeout=10)
    expected = known_detections()
    got = received[0]
    assert got == expected
    assert len(got.detections) == 5
    assert got.detections[3].results[0].hypothesis.class_id == 'cat'
    assert got.detections[3].bbox.center.position.y == 26.25
    assert got.header.stamp.nanosec == 123456789
