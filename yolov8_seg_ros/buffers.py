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
Frame-sized buffers recycled from frame to frame, but only once no result still uses them.

A fresh multi-megabyte array costs a page fault per 4 KiB on first write, more than the mask
work itself; reusing memory avoids that. A buffer is handed out again only when nothing but the
pool refers to it (no array, view or result made from it is alive), so a caller that keeps a
result never sees it overwritten.
"""

from __future__ import annotations

import sys

import numpy as np


def _unused(buffers: list[np.ndarray], index: int) -> bool:
    """Tell whether only the pool's list refers to buffers[index] (and getrefcount's argument)."""
    return sys.getrefcount(buffers[index]) == 2


class BufferPool:
    """A few byte buffers, each reused once every view of it is gone. One pool per thread."""

    def __init__(self, keep: int = 3) -> None:
        self._keep = keep
        self._buffers: list[np.ndarray] = []

    def take(self, shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
        """Return an uninitialised C-contiguous array of shape and dtype, reusing a free buffer."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        buffers = self._buffers
        unused = [i for i in range(len(buffers)) if _unused(buffers, i)]
        fitting = [i for i in unused if buffers[i].size >= nbytes]
        if fitting:
            buffer = buffers[min(fitting, key=lambda i: buffers[i].size)]
        else:
            buffer = np.empty(max(nbytes, 1), dtype=np.uint8)
            if len(buffers) < self._keep:
                buffers.append(buffer)
            elif unused:  # too small for this frame: replace the smallest one
                buffers[min(unused, key=lambda i: buffers[i].size)] = buffer
        return buffer[:nbytes].view(dtype).reshape(shape)
