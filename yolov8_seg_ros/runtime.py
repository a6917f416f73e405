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
Thread plumbing and bookkeeping for the node (no rclpy; every clock is injectable).

The latest-frame slot, counters, rates, latency percentiles per stage, a per-kind log throttle.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import re
import threading
import time
from typing import Any, Callable, Generic, Optional, TypeVar

import numpy as np

Item = TypeVar('Item')


class LatestFrameSlot(Generic[Item]):
    """
    A one-item hand-over from the executor to the worker: put() replaces a frame not yet taken.

    So the worker always gets the newest frame and nothing queues up when inference is slow.
    The worker calls done() after each item it took, so drain() can wait for it to finish.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Optional[Item] = None
        self._closed = False
        self._busy = False  # an item was taken and done() not yet called

    def put(self, item: Item) -> bool:
        """Store item; returns True when it replaced (dropped) a frame that was never taken."""
        with self._condition:
            dropped = self._item is not None
            self._item = item
            self._condition.notify()
            return dropped

    def take(self, timeout_s: Optional[float] = None) -> Optional[Item]:
        """Wait for and remove the newest item; None once closed (or after timeout_s)."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            if self._closed or self._item is None:
                return None
            item, self._item = self._item, None
            self._busy = True
            return item

    def done(self) -> None:
        """Say that the item last taken is finished (published, skipped or failed)."""
        with self._condition:
            self._busy = False
            self._condition.notify_all()

    def drain(self, timeout_s: float) -> tuple[bool, bool]:
        """
        Remove a waiting item and wait up to timeout_s for the one being worked on to finish.

        Returns (whether an untaken item was dropped, whether the worker is idle now).
        """
        with self._condition:
            dropped = self._item is not None
            self._item = None
            idle = self._condition.wait_for(lambda: not self._busy, timeout_s)
            return dropped, idle

    @property
    def closed(self) -> bool:
        """Return True once close() was called."""
        return self._closed

    def close(self) -> None:
        """Wake the worker and make every later take() return None."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


@dataclass(frozen=True)
class StageLatency:
    """Latency percentiles of one stage over the recent window, in milliseconds."""

    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True)
class StatsSnapshot:
    """Counters since start, rates over the recent window, and latency percentiles."""

    received: int
    processed: int
    dropped: int
    bad: int
    failed: int
    overlays: int  # processed frames that also got an overlay image
    input_hz: float
    output_hz: float
    latency: dict[str, StageLatency]  # per stage, plus 'total' (receive -> published)
    stalled_s: float  # how long a received frame has waited with no frame finished; 0 if none

    @property
    def in_progress(self) -> int:
        """Frames received and not yet in a bucket (waiting in the slot or being processed)."""
        return self.received - self.processed - self.dropped - self.bad - self.failed

    def summary(self) -> str:
        """Return a one-line human summary for the log."""
        stages = ' '.join(f'{name} {lat.p50_ms:.1f}' for name, lat in self.latency.items())
        return (f'in {self.input_hz:.1f} Hz, out {self.output_hz:.1f} Hz; frames received '
                f'{self.received}, processed {self.processed}, dropped {self.dropped}, bad '
                f'{self.bad}, failed {self.failed}; p50 ms: {stages or "-"}')


class PipelineStats:
    """Thread-safe counters and latency windows, updated by the callbacks and the worker."""

    def __init__(self, stages: tuple[str, ...], window: int = 300, rate_window_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rate_window_s = rate_window_s
        self._stages = (*stages, 'total')
        self._latency = {stage: deque(maxlen=window) for stage in self._stages}
        self._received_at: deque[float] = deque()
        self._processed_at: deque[float] = deque()
        self._started = clock()
        self.received = self.processed = self.dropped = self.bad = self.failed = 0
        self.overlays = 0
        self._waiting_since: Optional[float] = None  # first frame received since one finished

    def frame_received(self, dropped_previous: bool) -> None:
        """Count an arriving frame (and the untaken frame it replaced, if any)."""
        with self._lock:
            now = self._clock()
            self.received += 1
            self.dropped += int(dropped_previous)
            self._received_at.append(now)
            if self._waiting_since is None:
                self._waiting_since = now

    def _finished(self) -> None:
        self._waiting_since = None
        if self.processed + self.dropped + self.bad + self.failed < self.received:
            self._waiting_since = self._clock()  # newer frames wait from now on

    def frame_dropped(self) -> None:
        """Count a frame that waited and was never processed (its subscription was dropped)."""
        with self._lock:
            self.dropped += 1
            self._finished()

    def frame_bad(self) -> None:
        """Count a frame skipped because its data could not be used."""
        with self._lock:
            self.bad += 1
            self._finished()

    def frame_failed(self) -> None:
        """Count a frame lost to an inference or runtime error."""
        with self._lock:
            self.failed += 1
            self._finished()

    def frame_processed(self, stage_s: dict[str, float], total_s: float,
                        with_overlay: bool = False) -> None:
        """Record one published frame's stage durations (seconds)."""
        with self._lock:
            self.processed += 1
            self._finished()
            self.overlays += int(with_overlay)
            self._processed_at.append(self._clock())
            for stage, seconds in stage_s.items():
                self._latency[stage].append(seconds)
            self._latency['total'].append(total_s)

    def stalled_s(self) -> float:
        """Seconds a received frame has waited with no frame finished; 0 when none waits."""
        with self._lock:
            return self._stalled_s(self._clock())

    def _stalled_s(self, now: float) -> float:
        return 0.0 if self._waiting_since is None else now - self._waiting_since

    def snapshot(self) -> StatsSnapshot:
        """Return a consistent copy of the counters, rates and percentiles."""
        with self._lock:
            now = self._clock()
            span = max(1e-9, min(self._rate_window_s, now - self._started))
            rates = []
            for stamps in (self._received_at, self._processed_at):
                while stamps and stamps[0] < now - self._rate_window_s:
                    stamps.popleft()
                rates.append(len(stamps) / span)
            latency = {}
            for stage in self._stages:
                values = np.fromiter(self._latency[stage], dtype=np.float64) * 1000.0
                if values.size:
                    p50, p95 = np.percentile(values, (50, 95))
                    latency[stage] = StageLatency(float(p50), float(p95), float(values.max()))
            return StatsSnapshot(self.received, self.processed, self.dropped, self.bad,
                                 self.failed, self.overlays, rates[0], rates[1], latency,
                                 self._stalled_s(now))


class KindThrottle:
    """
    Decide when to log a recurring problem.

    The first of each kind is logged at once, then at most once per period with the number
    suppressed. The kind is the message with its numbers removed.
    """

    def __init__(self, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._period_s = period_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    @staticmethod
    def kind_of(message: str) -> str:
        """Return the message with every number replaced, so sizes do not make new kinds."""
        return re.sub(r'\d+(\.\d+)?', '#', message)

    def check(self, message: str) -> Optional[str]:
        """Return the text to log now (with a suppressed count), or None to stay quiet."""
        kind = self.kind_of(message)
        with self._lock:
            now = self._clock()
            last = self._last.get(kind)
            if last is not None and now - last < self._period_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return None
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            return f'{message} ({suppressed} more like this in the last {self._period_s:g} s)'
        return message


def describe_error(error: Any) -> str:
    """Return 'ExceptionType: message' for logs."""
    return f'{type(error).__name__}: {error}'
