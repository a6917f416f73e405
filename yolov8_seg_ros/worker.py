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
The node's worker thread: newest frame in, one FrameStep call per frame, a watchdog (no rclpy).

Everything a frame is processed with comes from one snapshot taken when the frame is taken
(see frame_step.FrameContext), so a parameter change or a transition never mixes old and new
parts within a frame; an exception in a frame counts it failed and the worker goes on.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, NamedTuple, Optional

from yolov8_seg_ros.frame_step import FrameContext, FrameStep
from yolov8_seg_ros.runtime import describe_error, LatestFrameSlot, PipelineStats


class _Frame(NamedTuple):
    msg: Any
    received_s: float  # time.perf_counter() when the callback ran


class FrameWorker:
    """One daemon thread that processes the newest frame with the context of that moment."""

    def __init__(self, step: FrameStep, context: Callable[[], Optional[FrameContext]],
                 stats: PipelineStats, stall_timeout_s: float,
                 error: Callable[[str, str], None]) -> None:
        self._step = step
        self._context = context
        self._stats = stats
        self._stall_timeout_s = stall_timeout_s
        self._error = error
        self._slot: LatestFrameSlot[_Frame] = LatestFrameSlot()
        # A daemon thread: a worker stuck in a native call must not keep a failed process alive.
        self._thread = threading.Thread(target=self._run, name='yolov8_seg_worker', daemon=True)
        self._thread.start()

    def put(self, msg: Any) -> None:
        """Hand a frame over (executor thread); a frame not yet taken is dropped."""
        self._stats.frame_received(self._slot.put(_Frame(msg, time.perf_counter())))

    def drain(self) -> bool:
        """Drop the waiting frame (counted) and wait for the one in progress; True when idle."""
        dropped, idle = self._slot.drain(timeout_s=self._stall_timeout_s)
        if dropped:
            self._stats.frame_dropped()
        return idle

    def _run(self) -> None:
        while True:
            frame = self._slot.take(timeout_s=0.5)
            if frame is None:
                if self._slot.closed:
                    return
                continue
            try:
                context = self._context()
                if context is None:  # unconfigured between the hand-over and now
                    self._stats.frame_dropped()
                else:
                    self._step(context, frame.msg, frame.received_s)
            except Exception as error:  # keep the worker alive; the frame is counted lost
                self._stats.frame_failed()
                self._error(f'frame lost: {describe_error(error)}', traceback.format_exc())
            finally:
                self._slot.done()

    def problem(self) -> Optional[str]:
        """Return why the node cannot go on (dead or stalled worker), or None while healthy."""
        if not self._thread.is_alive() and not self._slot.closed:
            return 'the worker thread has stopped; no frame can be processed'
        stalled_s = self._stats.stalled_s()
        if stalled_s > self._stall_timeout_s:
            return (f'no frame finished for {stalled_s:.1f} s while frames wait (worker '
                    f'stuck; worker_stall_timeout {self._stall_timeout_s:g} s)')
        return None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current frame, waiting at most timeout_s for it."""
        self._slot.close()
        self._thread.join(timeout=timeout_s)
