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
Test and demo bags: written with rosbags, replayed over DDS with rclpy.

Bags are rosbag2 format version 8 (what Humble's ros2 bag play reads); replay publishes each
message's recorded CDR bytes as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
from pathlib import Path
from typing import Any, Iterator, Optional

import cv2
from helpers import pip_only
import numpy as np
import pytest
from yolov8_seg_ros.preprocess import bgr_to_nv12

_rosbag2 = pytest.importorskip('rosbags.rosbag2', reason=pip_only('rosbags'),
                               exc_type=ImportError)
_typesys = pytest.importorskip('rosbags.typesys', reason=pip_only('rosbags'),
                               exc_type=ImportError)
Reader, Writer = _rosbag2.Reader, _rosbag2.Writer
get_types_from_msg, get_typestore, Stores = (_typesys.get_types_from_msg,
                                             _typesys.get_typestore, _typesys.Stores)

ROOT = Path(__file__).resolve().parents[2]
HBM_MSG = ROOT / 'dev' / 'ros_interfaces' / 'hbm_img_msgs' / 'msg' / 'HbmMsg1080P.msg'
IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
HBM = 'hbm_img_msgs/msg/HbmMsg1080P'


def typestore() -> Any:
    """Humble's message types plus TROS' HbmMsg1080P."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    store.register(get_types_from_msg(HBM_MSG.read_text(), HBM))
    return store


@dataclass(frozen=True)
class BagMessage:
    """One message to record: its topic, type name, rosbags message object and log time."""

    topic: str
    msgtype: str
    msg: Any
    time_ns: int


def stamp_of(index: int) -> tuple[int, int]:
    """Return a distinct, recognisable (sec, nanosec) for frame index."""
    return 1_700_000_000 + index, 1_000 * index + 7


def stamp_from(header: Any) -> tuple[int, int]:
    """Return a received header's (sec, nanosec), comparable with stamp_of."""
    return header.stamp.sec, header.stamp.nanosec


def image_array(msg: Any) -> np.ndarray:
    """Return a received bgr8/mono8/mono16 Image as numpy: (H, W, 3) or (H, W)."""
    dtype = np.uint16 if msg.encoding == 'mono16' else np.uint8
    array = np.frombuffer(bytes(msg.data), dtype).reshape(msg.height, msg.width, -1)
    return array[..., 0] if array.shape[2] == 1 else array


def _header(store: Any, stamp: tuple[int, int], frame_id: str) -> Any:
    time_type = store.types['builtin_interfaces/msg/Time']
    return store.types['std_msgs/msg/Header'](stamp=time_type(sec=stamp[0], nanosec=stamp[1]),
                                              frame_id=frame_id)


def raw_image(store: Any, data: np.ndarray, width: int, height: int, encoding: str,
              step: int, stamp: tuple[int, int], frame_id: str = 'camera') -> Any:
    """sensor_msgs/Image with exactly the given fields (no checks: bad frames are allowed)."""
    return store.types[IMAGE](header=_header(store, stamp, frame_id), height=height, width=width,
                              encoding=encoding, is_bigendian=0, step=step,
                              data=np.ascontiguousarray(data, dtype=np.uint8).reshape(-1))


def image_from_bgr(store: Any, bgr: np.ndarray, encoding: str, stamp: tuple[int, int],
                   frame_id: str = 'camera') -> Any:
    """Build a well-formed Image (nv12, bgr8, rgb8, mono8) or CompressedImage ('jpeg')."""
    height, width = bgr.shape[:2]
    if encoding == 'jpeg':
        ok, encoded = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        return store.types[COMPRESSED](header=_header(store, stamp, frame_id), format='jpeg',
                                       data=encoded.reshape(-1))
    if encoding == 'nv12':
        return raw_image(store, bgr_to_nv12(bgr), width, height, 'nv12', width, stamp, frame_id)
    if encoding == 'rgb8':
        return raw_image(store, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), width, height, 'rgb8',
                         width * 3, stamp, frame_id)
    if encoding == 'mono8':
        return raw_image(store, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), width, height, 'mono8',
                         width, stamp, frame_id)
    assert encoding == 'bgr8', encoding
    return raw_image(store, bgr, width, height, 'bgr8', width * 3, stamp, frame_id)


CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'


def camera_info(store: Any, camera: Any, stamp: tuple[int, int], frame_id: str,
                fx: Optional[float] = None, size_wh: Optional[tuple[int, int]] = None) -> Any:
    """
    Return sensor_msgs/CameraInfo of a pinhole camera (fx, fy, cx, cy, width, height).

    No distortion; fx and size_wh replace the camera's own (bad camera infos for tests).
    """
    fx = camera.fx if fx is None else fx
    width, height = size_wh or (camera.width, camera.height)
    k = np.array([fx, 0, camera.cx, 0, camera.fy, camera.cy, 0, 0, 1], np.float64)
    types = store.types
    return types[CAMERA_INFO](
        header=_header(store, stamp, frame_id), height=height, width=width,
        distortion_model='plumb_bob', d=np.zeros(5), k=k, r=np.eye(3).reshape(-1),
        p=np.concatenate([k.reshape(3, 3), np.zeros((3, 1))], axis=1).reshape(-1),
        binning_x=0, binning_y=0, roi=types['sensor_msgs/msg/RegionOfInterest'](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def depth_image(store: Any, depth: np.ndarray, stamp: tuple[int, int], frame_id: str) -> Any:
    """Return sensor_msgs/Image 16UC1 (a uint16 array, mm) or 32FC1 (a float32 array, m)."""
    height, width = depth.shape
    encoding = '16UC1' if depth.dtype == np.uint16 else '32FC1'
    return raw_image(store, np.ascontiguousarray(depth).view(np.uint8), width, height, encoding,
                     width * depth.itemsize, stamp, frame_id)


def hbm_from_bgr(store: Any, bgr: np.ndarray, stamp: tuple[int, int], index: int) -> Any:
    """hbm_img_msgs/HbmMsg1080P carrying the frame as NV12, as TROS mipi_cam publishes it."""
    height, width = bgr.shape[:2]
    nv12 = bgr_to_nv12(bgr).reshape(-1)
    data = np.zeros(6220800, np.uint8)
    data[:nv12.size] = nv12
    encoding = np.zeros(12, np.uint8)
    encoding[:4] = np.frombuffer(b'nv12', np.uint8)
    time_type = store.types['builtin_interfaces/msg/Time']
    return store.types[HBM](index=index, time_stamp=time_type(sec=stamp[0], nanosec=stamp[1]),
                            height=height, width=width, data_size=nv12.size, step=width,
                            encoding=encoding, data=data)


def write_bag(path: Path, messages: list[BagMessage]) -> Path:
    """Write messages to a new rosbag2 (sqlite3, version 8) at path."""
    store = typestore()
    connections: dict[tuple[str, str], Any] = {}
    with Writer(path, version=8) as writer:
        for item in messages:
            key = (item.topic, item.msgtype)
            if key not in connections:
                connections[key] = writer.add_connection(item.topic, item.msgtype,
                                                         typestore=store)
            writer.write(connections[key], item.time_ns,
                         store.serialize_cdr(item.msg, item.msgtype))
    return path


@dataclass(frozen=True)
class RecordedMessage:
    """One recorded message as replayed: topic, type name, raw CDR bytes, log time."""

    topic: str
    msgtype: str
    raw: bytes
    time_ns: int


def read_bag(path: Path, topic: Optional[str] = None) -> Iterator[RecordedMessage]:
    """Yield the bag's messages in log-time order (optionally one topic only)."""
    with Reader(path) as reader:
        connections = [c for c in reader.connections if topic is None or c.topic == topic]
        for connection, time_ns, raw in reader.messages(connections=connections):
            yield RecordedMessage(connection.topic, connection.msgtype, bytes(raw), time_ns)


def message_class(msgtype: str) -> Any:
    """'sensor_msgs/msg/Image' -> the rclpy message class."""
    package, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


def decode_image(store: Any, recorded: RecordedMessage) -> Any:
    """Deserialize a recorded message with rosbags (to read back what was replayed)."""
    return store.deserialize_cdr(recorded.raw, recorded.msgtype)
