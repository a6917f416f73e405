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

from typing import Any, NamedTuple, Optional

import cv2
import numpy as np

from yolov8_seg_ros.image_encodings import ENCODINGS, SOURCE_ENCODINGS
from yolov8_seg_ros.preprocess import ImageFormatError

DEFAULT_MAX_PIXELS = 8192 * 8192
MAX_FORMAT_CHARS = 128  # longer CompressedImage.format strings are refused unread
# Compressed data by its signature, and where each keeps its size (read before decoding).
COMPRESSED_FORMATS = ('jpeg', 'png')
_SIGNATURES = ((b'\xff\xd8\xff', 'jpeg'), (b'\x89PNG\r\n\x1a\n', 'png'), (b'BM', 'bmp'),
               (b'GIF8', 'gif'), (b'II*\x00', 'tiff'), (b'MM\x00*', 'tiff'))
_PNG_IEND = b'\x00\x00\x00\x00IEND\xaeB`\x82'


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


def message_bytes(data: Any) -> np.ndarray:
    """Return a message's data field (bytes, array.array, list or ndarray) as a uint8 view."""
    if isinstance(data, np.ndarray):
        return data.view(np.uint8).reshape(-1)
    return np.frombuffer(bytes(data) if isinstance(data, (list, tuple)) else data, np.uint8)


def check_pixels(what: str, width: int, height: int, max_pixels: int) -> None:
    """Raise ImageFormatError when width x height is more than max_pixels (the frame's bound)."""
    if width * height > max_pixels:
        raise ImageFormatError(f'{what} {width}x{height}: {width * height} pixels is more than '
                               f'max_image_pixels {max_pixels}; not decoded')


def from_image(msg: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> SourceImage:
    """
    sensor_msgs/Image -> SourceImage view of msg.data (never copied nor padded).

    Raises ImageFormatError naming what is wrong: encoding (case-sensitive, as in ROS), size,
    step or data length.
    """
    encoding = msg.encoding
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    if encoding not in SOURCE_ENCODINGS:
        shown = encoding[:MAX_FORMAT_CHARS] + ('...' if len(encoding) > MAX_FORMAT_CHARS else '')
        raise ImageFormatError(f'unsupported encoding {shown!r}: expected one of '
                               f'{SOURCE_ENCODINGS} (encodings are case-sensitive)')
    if width <= 0 or height <= 0:
        raise ImageFormatError(f'{encoding} image {width}x{height}: empty image')
    check_pixels(f'{encoding} image', width, height, max_pixels)
    if ENCODINGS[encoding].chroma_subsampled and (
            width % 2 or (encoding == 'nv12' and height % 2)):
        rule = 'width and height' if encoding == 'nv12' else 'width'
        raise ImageFormatError(f'{encoding} image {width}x{height}: {rule} must be even')
    data = message_bytes(msg.data)
    if encoding == 'nv12':
        rows, row_bytes = height * 3 // 2, width
    else:
        rows, row_bytes = height, width * ENCODINGS[encoding].bytes_per_pixel
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
    # Rows `step` apart; the last row may end right after its pixels (no padding is made).
    view = np.lib.stride_tricks.as_strided(data, shape=(rows, row_bytes), strides=(step, 1),
                                           writeable=False)
    channels = ENCODINGS[encoding].bytes_per_pixel
    if encoding == 'nv12' or channels == 1:
        return SourceImage(view, encoding)
    return SourceImage(np.lib.stride_tricks.as_strided(
        data, shape=(rows, width, channels), strides=(step, channels, 1), writeable=False),
        encoding)


def compressed_kind(data: np.ndarray) -> str:
    """Return what compressed data is by its signature: 'jpeg', 'png', 'bmp', ... 'unknown'."""
    head = data[:8].tobytes()
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b'RIFF' and data[8:12].tobytes() == b'WEBP':
        return 'webp'
    return 'unknown'


def compressed_size(data: np.ndarray, kind: str) -> tuple[int, int]:
    """(width, height) from a JPEG or PNG header, without decoding; raises ImageFormatError."""
    if kind == 'png':
        header = data[:24].tobytes()  # the signature and the IHDR chunk, not the whole image
        if len(header) < 24 or header[12:16] != b'IHDR':
            raise ImageFormatError(f'png data of {data.size} bytes: no IHDR header')
        return int.from_bytes(header[16:20], 'big'), int.from_bytes(header[20:24], 'big')
    return _jpeg_size(data)


def _jpeg_size(data: np.ndarray) -> tuple[int, int]:
    # Walk the marker segments up to the first start-of-frame (SOF0..SOF15 but DHT/JPG/DAC).
    raw = memoryview(data)
    position = 2
    while position + 4 <= len(raw):
        if raw[position] != 0xFF:
            break
        marker = raw[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = int.from_bytes(raw[position + 2:position + 4], 'big')
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if position + 9 > len(raw):
                break
            height = int.from_bytes(raw[position + 5:position + 7], 'big')
            width = int.from_bytes(raw[position + 7:position + 9], 'big')
            return width, height
        position += 2 + length
    raise ImageFormatError(f'jpeg data of {len(raw)} bytes: no frame header (SOF) found')


def format_mismatch(msg: Any) -> Optional[str]:
    """Say so when a CompressedImage's format names jpeg or png but its data is the other."""
    declared = [name for name in COMPRESSED_FORMATS if name in msg.format[:MAX_FORMAT_CHARS]]
    kind = compressed_kind(message_bytes(msg.data))
    if declared and kind in COMPRESSED_FORMATS and kind not in declared:
        return f'compressed image format {msg.format!r} but the data is {kind}: decoded as {kind}'
    return None


def from_compressed(msg: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> SourceImage:
    """
    sensor_msgs/CompressedImage (jpeg, png) -> BGR SourceImage, bounded before decoding.

    The data decides how it is decoded (see format_mismatch). Sizes above max_pixels, other
    formats, truncated or corrupt data raise ImageFormatError.
    """
    text = msg.format
    if len(text) > MAX_FORMAT_CHARS:
        raise ImageFormatError(f'compressed image: format string of {len(text)} characters '
                               f'(at most {MAX_FORMAT_CHARS})')
    data = message_bytes(msg.data)
    what = f'compressed image (format {text!r}, {data.size} bytes)'
    if data.size == 0:
        raise ImageFormatError(f'{what}: no data')
    kind = compressed_kind(data)
    if kind not in COMPRESSED_FORMATS:
        raise ImageFormatError(f'{what}: data is {kind}, expected one of {COMPRESSED_FORMATS}')
    width, height = compressed_size(data, kind)
    if width <= 0 or height <= 0:
        raise ImageFormatError(f'{what}: {kind} header says {width}x{height}')
    check_pixels(f'{what}: {kind}', width, height, max_pixels)
    if kind == 'jpeg' and data[-2:].tobytes() != b'\xff\xd9':
        raise ImageFormatError(f'{what}: jpeg data is truncated (no end-of-image marker)')
    if kind == 'png' and data[-12:].tobytes() != _PNG_IEND:
        raise ImageFormatError(f'{what}: png data is truncated (no IEND chunk)')
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as error:
        raise ImageFormatError(f'{what}: {kind} {width}x{height} cannot be decoded: '
                               f'{error.err}') from error
    if image is None:
        raise ImageFormatError(f'{what}: {kind} {width}x{height} cannot be decoded')
    return SourceImage(image, 'bgr8')


def from_hbm(msg: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> SourceImage:
    """hbm_img_msgs/HbmMsg1080P (TROS shared memory) -> SourceImage."""
    encoding = bytes(bytearray(msg.encoding)).split(b'\0', 1)[0].decode(errors='replace')
    width, height = int(msg.width), int(msg.height)
    step = int(msg.step) or width
    rows = height * 3 // 2 if encoding == 'nv12' else height
    size = min(int(msg.data_size), step * rows)
    return from_image(_RawImage(encoding, width, height, step, message_bytes(msg.data)[:size]),
                      max_pixels)
