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
Each frame's depth image and camera info, found by stamp in short buffers (no rclpy).

The buffers are bounded by time (a message older than the pairing window plus the time a
frame may wait for the worker is never used again) and by bytes, and take no depth image the
3D step would refuse, so a stream of oversized or broken depth frames costs no memory.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any, Callable, NamedTuple, Optional, Union

from yolov8_seg_ros.depth import depth_from_image, DepthInputError

# The 3D counters in /diagnostics: every processed frame is paired, unmatched or bad; depth
# images refused on arrival never enter the buffer.
DEPTH_COUNTERS = ('frames_depth_paired', 'frames_depth_unmatched', 'frames_depth_bad',
                  'objects_3d', 'objects_without_3d', 'depth_images_refused')
# How long after a depth image arrived a frame of the same stamp may still be processed (on the
# receive clock): the newest-frame slot holds one frame, so this is the worker's latency with
# margin; the pairing window (depth_max_stamp_diff) is added to it.
FRAME_LAG_S = 1.0
DEPTH_BUFFER_BYTES = 256 * 1024 * 1024
CAMERA_INFO_BUFFER_BYTES = 1024 * 1024


def stamp_ns(header: Any) -> int:
    """Return a header's stamp in nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def message_nbytes(msg: Any) -> int:
    """Return the size of a message's data field (0 for messages without one)."""
    data = getattr(msg, 'data', None)
    return 0 if data is None else len(data)


class Refused(NamedTuple):
    """A message that was refused on arrival: only the reason is kept."""

    reason: str


class StampedBuffer:
    """
    The recent messages of one topic, ordered by stamp; thread-safe.

    Filled on the executor thread, read by the worker. A message with the stamp of one already
    held replaces it (the newest wins). Messages that arrived more than keep_s ago go (by the
    receive clock, so a stamp from another clock cannot flush the rest), and at most max_bytes
    of data are held, oldest arrivals first (the newest message always stays). A refused
    message is held as its reason alone (no data), so a frame of its stamp is told why.
    """

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._clock = clock
        self._stamps: list[int] = []
        # (message, bytes, (arrival time, arrival count)), in stamp order
        self._entries: list[tuple[Any, int, tuple[float, int]]] = []
        self._arrivals = 0
        self.nbytes = 0

    def add(self, msg: Any, keep_s: float, refused: Optional[str] = None) -> None:
        """Insert msg (or, refused, only why) by its stamp; drop what arrived keep_s ago."""
        stamp = stamp_ns(msg.header)
        size = 0 if refused is not None else message_nbytes(msg)
        with self._lock:
            self._arrivals += 1
            entry = (Refused(refused) if refused is not None else msg, size,
                     (self._clock(), self._arrivals))
            index = bisect.bisect_left(self._stamps, stamp)
            if index < len(self._stamps) and self._stamps[index] == stamp:
                self.nbytes -= self._entries[index][1]
                self._entries[index] = entry
            else:
                self._stamps.insert(index, stamp)
                self._entries.insert(index, entry)
            self.nbytes += size
            oldest_kept = entry[2][0] - keep_s
            by_arrival = sorted(range(len(self._entries)), key=lambda i: self._entries[i][2])
            gone, held = set(), self.nbytes
            for i in by_arrival[:-1]:  # never the newest arrival
                if self._entries[i][2][0] >= oldest_kept and held <= self._max_bytes:
                    break
                gone.add(i)
                held -= self._entries[i][1]
            if gone:
                self._stamps = [t for i, t in enumerate(self._stamps) if i not in gone]
                self._entries = [e for i, e in enumerate(self._entries) if i not in gone]
                self.nbytes = held

    def nearest(self, stamp: int, max_diff_ns: int) -> Optional[Any]:
        """Return the message nearest stamp (ns) within max_diff_ns; on a tie the newer one."""
        with self._lock:
            index = bisect.bisect_left(self._stamps, stamp)
            best = None
            for i in (index - 1, index):  # ascending stamps: the later candidate wins a tie
                if 0 <= i < len(self._stamps) and abs(self._stamps[i] - stamp) <= max_diff_ns \
                        and (best is None or abs(self._stamps[i] - stamp)
                             <= abs(self._stamps[best] - stamp)):
                    best = i
            return None if best is None else self._entries[best][0]

    def latest_stamp_s(self) -> Optional[float]:
        """Seconds of the newest stamp held, or None."""
        with self._lock:
            return self._stamps[-1] * 1e-9 if self._stamps else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._stamps)

    def clear(self) -> None:
        """Drop every message (deactivate, cleanup: nothing is held while inactive)."""
        with self._lock:
            self._stamps.clear()
            self._entries.clear()
            self.nbytes = 0


class Paired(NamedTuple):
    """A frame's depth image and camera info."""

    depth: Any
    info: Any


class Unpaired(NamedTuple):
    """Why a frame has no 3D: counted 'unmatched' (nothing near its stamp) or 'bad'."""

    reason: str
    counted: str


class DepthPairing:
    """The depth image and camera info buffers of one node, and the 3D counters."""

    def __init__(self, depth_topic: str, info_topic: str, max_pixels: int,
                 depth_bytes: int = DEPTH_BUFFER_BYTES) -> None:
        self.depth_topic, self.info_topic = depth_topic, info_topic
        self._max_pixels = max_pixels
        self.depth = StampedBuffer(depth_bytes)
        self.info = StampedBuffer(CAMERA_INFO_BUFFER_BYTES)
        self.counts = dict.fromkeys(DEPTH_COUNTERS, 0)

    def add_depth(self, msg: Any, max_diff_s: float) -> Optional[str]:
        """Keep a depth image; returns why it was refused instead (its data is not kept)."""
        try:
            depth_from_image(msg, self._max_pixels)
        except DepthInputError as error:
            self.counts['depth_images_refused'] += 1
            problem = f'skipping depth on {self.depth_topic}: {error}'
            self.depth.add(msg, max_diff_s + FRAME_LAG_S, refused=problem)
            return problem
        self.depth.add(msg, max_diff_s + FRAME_LAG_S)
        return None

    def add_info(self, msg: Any, max_diff_s: float) -> None:
        """Keep a camera info message."""
        self.info.add(msg, max_diff_s + FRAME_LAG_S)

    def pair(self, header: Any, max_diff_s: float) -> Union[Paired, Unpaired]:
        """Return the frame's depth and camera info, or why there is none (and count it)."""
        stamp = stamp_ns(header)
        max_diff_ns = int(round(max_diff_s * 1e9))
        depth = self.depth.nearest(stamp, max_diff_ns)
        if isinstance(depth, Refused):
            self.counts['frames_depth_bad'] += 1
            return Unpaired(depth.reason, 'bad')
        info = self.info.nearest(stamp, max_diff_ns) if depth is not None else None
        if depth is not None and info is not None:
            return Paired(depth, info)
        self.counts['frames_depth_unmatched'] += 1
        if depth is None:
            missing, topic = self.depth, self.depth_topic
        else:
            missing, topic = self.info, self.info_topic
        latest = missing.latest_stamp_s()
        return Unpaired(f'no {"depth image" if depth is None else "camera info"} on {topic} '
                        f'within {max_diff_s:g} s of frame {stamp * 1e-9:.3f} (newest: '
                        f'{"none yet" if latest is None else f"{latest:.3f}"}): no 3D output',
                        'unmatched')

    def clear(self) -> None:
        """Drop every buffered message."""
        self.depth.clear()
        self.info.clear()
