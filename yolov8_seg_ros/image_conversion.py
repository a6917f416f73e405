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
ROS image messages -> numpy views in a preprocess encoding, with specific errors for bad frames.

No rclpy: works on the message objects alone. Zero-copy where the encoding allows (a view of
msg.data with the message's row step).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import cv2
import numpy as np

from yolov8_seg_ros.preprocess import ImageFormatError

_CHANNELS = {'bgr8': 3, 'rgb8': 3, 'mono8': 1, 'bgra8': 4, 'rgba8': 4, 'yuv422': 2,
             'uyvy': 2, 'yuv422_yuy2': 2, 'yuyv': 2}
RAW_ENCODINGS = ('nv12', *_CHANNELS)


class SourceImage(NamedTuple):
    """A source image array and its encoding (see yolov8_seg_ros.preprocess)."""

    array: np.ndarray
    encoding: str


class _RawImage(NamedTuple):
    """The sensor_msgs/Image fields from_image reads, for messages that are not Images."""

    encoding: str
    width: int
    height: int
    step: int
    data: np.ndarray


def _buffer(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.view(np.uint8).reshape(-1)
    return np.frombuffer(bytes(data) if isinstance(data, (list, tuple)) else data, np.uint8)


def from_image(msg: Any) -> SourceImage:
    """sensor_msgs/Image -> SourceImage; raises ImageFormatError naming what is wrong."""
    encoding = msg.encoding.lower()
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    if width <= 0 or height <= 0:
        raise ImageFormatError(f'{encoding} image {width}x{height}: empty image')
    data = _buffer(msg.data)
    if encoding == 'nv12':
        if width % 2 or height % 2:
            raise ImageFormatError(f'nv12 image {width}x{height}: width and height must be even')
        rows, row_bytes = height * 3 // 2, width
    elif encoding in _CHANNELS:
        rows, row_bytes = height, width * _CHANNELS[encoding]
    else:
        raise ImageFormatError(f'unsupported encoding {encoding!r}: expected one of '
                               f'{RAW_ENCODINGS}')
    if step < row_bytes:
        raise ImageFormatError(f'{encoding} image {width}x{height}: step {step} is smaller '
                               f'than one row ({row_bytes} bytes)')
    needed = step * (rows - 1) + row_bytes
    if data.size < needed:
        raise ImageFormatError(f'{encoding} image {width}x{height} step {step}: data has '
                               f'{data.size} bytes, expected {step * rows}')
    if data.size > step * rows:
        raise ImageFormatError(f'{encoding} image {width}x{height} step {step}: data has '
                               f'{data.size} bytes, more than step x rows = {step * rows}')
    if data.size < step * rows:
        data = np.concatenate([data, np.zeros(step * rows - data.size, np.uint8)])
    view = data.reshape(rows, step)[:, :row_bytes]
    if encoding == 'nv12' or _CHANNELS[encoding] == 1:
        return SourceImage(view, encoding)
    return SourceImage(view.reshape(rows, width, _CHANNELS[encoding]), encoding)


def from_compressed(msg: Any) -> SourceImage:
    """sensor_msgs/CompressedImage (jpeg, png) -> BGR SourceImage."""
    image = cv2.imdecode(_buffer(msg.data), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageFormatError(f'compressed image (format {msg.format!r}, {len(msg.data)} '
                               'bytes): cannot be decoded as jpeg or png')
    return SourceImage(image, 'bgr8')


def from_hbm(msg: Any) -> SourceImage:
    """hbm_img_msgs/HbmMsg1080P (TROS shared memory) -> SourceImage."""
    encoding = bytes(bytearray(msg.encoding)).split(b'\0', 1)[0].decode(errors='replace')
    width, height = int(msg.width), int(msg.height)
    step = int(msg.step) or width
    rows = height * 3 // 2 if encoding.lower() == 'nv12' else height
    size = min(int(msg.data_size), step * rows)
    return from_image(_RawImage(encoding, width, height, step, _buffer(msg.data)[:size]))
