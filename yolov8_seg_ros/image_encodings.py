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

"""The raw image encodings the node accepts, and what each means for its bytes and colours."""

from __future__ import annotations

from typing import NamedTuple, Optional

import cv2


class Encoding(NamedTuple):
    """How one sensor_msgs/Image encoding is laid out and converted."""

    bytes_per_pixel: int  # per pixel of a row; nv12 rows are the (H * 3 / 2, W) byte array's
    to_bgr: Optional[int]  # cv2.cvtColor code; None for bgr8 (as is) and nv12 (two planes)
    chroma_subsampled: bool  # width must be even (nv12: height too)


# ROS sensor_msgs/image_encodings names (case-sensitive); 'yuv422' is UYVY and 'yuv422_yuy2' is
# YUYV there, 'uyvy' and 'yuyv' are the aliases cameras also send.
ENCODINGS: dict[str, Encoding] = {
    'nv12': Encoding(1, None, True),
    'bgr8': Encoding(3, None, False),
    'rgb8': Encoding(3, cv2.COLOR_RGB2BGR, False),
    'mono8': Encoding(1, cv2.COLOR_GRAY2BGR, False),
    'bgra8': Encoding(4, cv2.COLOR_BGRA2BGR, False),
    'rgba8': Encoding(4, cv2.COLOR_RGBA2BGR, False),
    'yuv422': Encoding(2, cv2.COLOR_YUV2BGR_UYVY, True),
    'uyvy': Encoding(2, cv2.COLOR_YUV2BGR_UYVY, True),
    'yuv422_yuy2': Encoding(2, cv2.COLOR_YUV2BGR_YUYV, True),
    'yuyv': Encoding(2, cv2.COLOR_YUV2BGR_YUYV, True),
}
SOURCE_ENCODINGS = tuple(ENCODINGS)
