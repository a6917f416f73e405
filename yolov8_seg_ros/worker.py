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
The node's worker thread: newest frame in, one FrameStep per frame, a watchdog (no rclpy).

Everything a frame is processed with comes from one snapshot taken when the frame is taken
(see frame_step.FrameContext), so a parameter change or a transition never mixes old and new
parts within a frame; an exception in a frame counts it failed and the worker goes on. With an
inference process as the backend, the worker preprocesses and submits the next frame before it
decodes the previous one, so the model and the CPU work at once; frames stay in order.
"""

from __future__ import annotations

from collections import deque
import threading
import time
import traceback
from typing import Any, Callable, NamedTuple, Optional

from yolov8_seg_ros.backends import BackendError
from yolov8_seg_ros.frame_step import FrameContext, FrameStep, InFlight
from yolov8_seg_ros.inference_process import InferenceProcessError
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
        self.fatal: Optional[str] = None  # set when the inference process is gone
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
        in_flight: deque[InFlight] = deque()  # submitted to an inference process, in order
        while True:
            frame = None
            if not in_flight or self._can_submit(in_flight[-1]):
                frame = self._slot.take(timeout_s=0.0 if in_flight else 0.5)
            if frame is None and not in_flight:
                if self._slot.closed:
                    return
                continue
            try:
                if frame is not None:
                    self._start(frame, in_flight)
                # Decode the older frame while the newer one infers; alone, wait for it.
                if len(in_flight) > 1 or (in_flight and frame is None):
                    self._finish_oldest(in_flight)
            except InferenceProcessError as error:  # the process is gone: the node must end
                self.fatal = f'inference process: {error}'
                self._stats.frame_failed()
                in_flight.clear()
            except Exception as error:  # keep the worker alive; the frame is counted lost
                self._stats.frame_failed()
                self._error(f'frame lost: {describe_error(error)}', traceback.format_exc())
            finally:
                if not in_flight:
                    self._slot.done()

    @staticmethod
    def _can_submit(newest: InFlight) -> bool:
        return newest.context.pipeline.backend.free_slots > 0

    def _start(self, frame: _Frame, in_flight: deque[InFlight]) -> None:
        """Process a frame serially, or preprocess and submit it to the inference process."""
        context = self._context()
        if context is None:  # unconfigured between the hand-over and now
            self._stats.frame_dropped()
            return
        if not hasattr(context.pipeline.backend, 'submit'):
            self._step(context, frame.msg, frame.received_s)
            return
        started = self._step.begin(context, frame.msg, frame.received_s)
        if started is not None:
            context.pipeline.backend.submit(started.prepared.tensor, tag=started)
            in_flight.append(started)

    def _finish_oldest(self, in_flight: deque[InFlight]) -> None:
        backend = in_flight[0].context.pipeline.backend
        frame = in_flight.popleft()
        try:
            collected = backend.collect(timeout_s=self._stall_timeout_s, copy=False)
        except BackendError as error:
            self._step.inference_failed(error)
            return
        try:
            timing = backend.last_timing
            self._step.end(frame, collected.outputs, timing.finished_s - timing.started_s)
        finally:
            backend.release()

    def problem(self) -> Optional[str]:
        """Return why the node cannot go on (dead or stalled worker), or None while healthy."""
        if self.fatal is not None:
            return self.fatal
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
