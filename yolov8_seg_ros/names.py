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

"""Names the node, the launch file and the tests share: package, executable, node, topics."""

PACKAGE_NAME = 'yolov8_seg_ros'
EXECUTABLE = 'yolov8_seg_node'
NODE_NAME = 'yolov8_seg'
# The node's relative input topic per input_transport (the TogetheROS.Bot defaults).
INPUT_TOPICS = {'raw': 'image_raw', 'compressed': 'image', 'hbmem': 'hbmem_img'}
INPUT_TRANSPORTS = tuple(INPUT_TOPICS)
# The node's outputs, relative to its private namespace (~/).
DETECTIONS_TOPIC = 'detections'
MASK_TOPIC = 'mask'
OVERLAY_TOPIC = 'overlay'
LABEL_INFO_TOPIC = 'label_info'
OUTPUT_TOPICS = (DETECTIONS_TOPIC, MASK_TOPIC, OVERLAY_TOPIC, LABEL_INFO_TOPIC)
# With a depth input (depth_topic) only.
DETECTIONS_3D_TOPIC = 'detections_3d'
MARKERS_TOPIC = 'markers'
POINTS_TOPIC = 'points'
DEPTH_OUTPUT_TOPICS = (DETECTIONS_3D_TOPIC, MARKERS_TOPIC, POINTS_TOPIC)


def sibling_camera_info(image_topic: str) -> str:
    """Return the CameraInfo topic beside an image topic (the image_transport convention)."""
    namespace, _, _ = image_topic.rpartition('/')
    return f'{namespace}/camera_info' if namespace or image_topic.startswith('/') \
        else 'camera_info'
