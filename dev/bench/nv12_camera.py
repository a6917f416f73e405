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
A stand-in camera: 1920x1080 nv12 sensor_msgs/Image at a fixed rate, sensor-data QoS.

Usage: python dev/bench/nv12_camera.py TOPIC FPS. On SIGTERM it prints the rate it reached.
"""

from __future__ import annotations

import array
from pathlib import Path
import signal
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'test'))
from helpers.shapes_dataset import generate_scene  # noqa: E402, I100
from yolov8_seg_ros.preprocess import bgr_to_nv12  # noqa: E402


def main() -> None:
    topic, fps = sys.argv[1], float(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node('nv12_camera')
    publisher = node.create_publisher(Image, topic, qos_profile_sensor_data)
    scene = generate_scene(np.random.default_rng(3), 1920, 1080, num_shapes=(4, 4),
                           radius_range=(0.06, 0.1))
    msg = Image(height=1080, width=1920, encoding='nv12', step=1920)
    msg.header.frame_id = 'camera'
    msg.data = array.array('B', bgr_to_nv12(scene.image_bgr).tobytes())
    sent = [0]
    started = time.monotonic()

    def publish() -> None:
        now = node.get_clock().now().to_msg()
        msg.header.stamp = now
        publisher.publish(msg)
        sent[0] += 1

    node.create_timer(1.0 / fps, publish)
    stopping = [False]
    signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__(0, True))
    while not stopping[0]:
        rclpy.spin_once(node, timeout_sec=0.1)
    print(f'camera fps {sent[0] / (time.monotonic() - started):.2f}', flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
