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
The BPU emulated for throughput benches: saved heads returned after a GIL-holding sleep.

On the board the BPU's time costs no CPU, while the fake runtime's ONNX run does: this backend
costs only latency_ms of sleep, holding the GIL as both runtimes do. emulated_bpu_factory builds
it inside an InferenceProcess; run_serial and run_pipelined time preprocess + inference +
decode + label image over the same frames. Run directly for the serial/pipelined ratio:
  python dev/bench/emulated_bpu.py [--latency-ms 10 40] [--frames 60]
"""

from __future__ import annotations

import argparse
import ctypes
from pathlib import Path
import statistics
import time
from typing import Any, Callable, NamedTuple

import numpy as np

from recorded_outputs_node import ReplayedHeadsBackend  # noqa: I100 (dev/bench on sys.path)
from yolov8_seg_ros.backends import BackendError

ROOT = Path(__file__).resolve().parents[2]
# A C call that keeps the GIL, as the runtimes' inference does (test/fakes/fake_bpu_model.py).
_GIL_HOLDING_LIBC = ctypes.PyDLL(None)


class EmulatedBpuBackend(ReplayedHeadsBackend):
    """Heads saved by recorded_outputs_node.save_heads, after latency_ms with the GIL held."""

    name = 'emulated_bpu'
    runtime_version = 'emulated'

    def __init__(self, heads_path: str, latency_ms: float, input_format: str = 'nv12') -> None:
        super().__init__(heads_path)
        self.input_format = input_format
        width, height = self.input_wh
        self._input_bytes = (width * height * 3 // 2 if input_format == 'nv12'
                             else 3 * width * height * 4)
        self._latency_us = int(latency_ms * 1000)

    def infer(self, tensor: np.ndarray) -> list[Any]:
        """Check the input size as the BPU's DMA would, hold the GIL latency_ms, return heads."""
        if tensor.nbytes != self._input_bytes:
            raise BackendError(f'emulated BPU input: {tensor.nbytes} bytes, expected '
                               f'{self._input_bytes}')
        if self._latency_us:
            _GIL_HOLDING_LIBC.usleep(self._latency_us)
        return super().infer(tensor)


def emulated_bpu_factory(name: str, model_path: str, num_threads: int = 0,
                         providers: tuple[str, ...] = ('cpu',), latency_ms: float = 10.0,
                         input_format: str = 'nv12') -> EmulatedBpuBackend:
    """Backend factory (create_backend's signature): model_path is a save_heads .npz."""
    return EmulatedBpuBackend(model_path, latency_ms, input_format)


class RunTimes(NamedTuple):
    """One bench run: frames per second and per-frame latency (preprocess start to decoded)."""

    fps: float
    p50_ms: float
    p95_ms: float


def _summary(latencies_s: list[float], elapsed_s: float) -> RunTimes:
    ms = sorted(1000.0 * s for s in latencies_s)
    return RunTimes(len(ms) / elapsed_s, statistics.median(ms),
                    ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))])


def run_serial(backend: Any, frames: list[np.ndarray], prepare: Callable[[np.ndarray], Any],
               finish: Callable[[Any, Any], Any]) -> RunTimes:
    """Each frame through prepare -> backend.infer -> finish, one after the other."""
    latencies = []
    started = time.perf_counter()
    for frame in frames:
        begun = time.perf_counter()
        prepared = prepare(frame)
        finish(backend.infer(prepared.tensor), prepared)
        latencies.append(time.perf_counter() - begun)
    return _summary(latencies, time.perf_counter() - started)


def run_pipelined(process: Any, frames: list[np.ndarray], prepare: Callable[[np.ndarray], Any],
                  finish: Callable[[Any, Any], Any], copy: bool = False) -> RunTimes:
    """Frame k+1 is prepared and submitted before frame k is collected and finished."""
    latencies = []
    started = time.perf_counter()
    begun = time.perf_counter()
    prepared = prepare(frames[0])
    process.submit(prepared.tensor, (begun, prepared))
    for k in range(len(frames)):
        if k + 1 < len(frames):
            begun = time.perf_counter()
            prepared = prepare(frames[k + 1])
            process.submit(prepared.tensor, (begun, prepared))
        (frame_begun, frame_prepared), outputs = process.collect(copy=copy)
        finish(outputs, frame_prepared)
        process.release()
        latencies.append(time.perf_counter() - frame_begun)
    return _summary(latencies, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--latency-ms', type=float, nargs='+', default=[10.0, 40.0])
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--heads', default=str(ROOT / 'build' / 'bench' /
                                               'heads_1080p_n10_large.npz'))
    parser.add_argument('--copy', action='store_true', help='collect copies instead of views')
    args = parser.parse_args()
    from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor
    from yolov8_seg_ros.inference_process import BackendSpec, InferenceProcess
    from yolov8_seg_ros.preprocess import bgr_to_nv12, Preprocessor
    from yolov8_seg_ros.render import render_instance_labels
    from yolov8_seg_ros.transform import ImageTransform
    heads = Path(args.heads)
    if not heads.exists():
        from recorded_outputs_node import save_heads
        from run_bench import crafted_outputs, POSTPROCESS_CASES
        size, mode, count, fraction = POSTPROCESS_CASES['1080p_n10_large']
        heads.parent.mkdir(parents=True, exist_ok=True)
        save_heads(heads, crafted_outputs(count, fraction,
                                          ImageTransform.create(mode, size, (640, 640))))
    rng = np.random.default_rng(0)
    frames = [bgr_to_nv12(rng.integers(0, 256, (1080, 1920, 3), np.uint8))
              for _ in range(4)] * (args.frames // 4)
    preprocessor = Preprocessor((640, 640), 'nv12')
    config = DecodeConfig()

    def prepare(frame: np.ndarray) -> Any:
        return preprocessor(frame, 'nv12')

    def finisher(postprocessor: SegPostprocessor) -> Callable[[Any, Any], Any]:
        def finish(outputs: Any, prepared: Any) -> None:
            render_instance_labels(postprocessor(outputs, prepared.transform, config))
        return finish

    for latency_ms in args.latency_ms:
        serial_backend = EmulatedBpuBackend(str(heads), latency_ms)
        finish = finisher(SegPostprocessor(serial_backend.layout))
        serial = run_serial(serial_backend, frames, prepare, finish)
        spec = BackendSpec('emulated_bpu', str(heads), options={'latency_ms': latency_ms},
                           factory=emulated_bpu_factory)
        with InferenceProcess(spec) as process:
            pipelined = run_pipelined(process, frames, prepare, finish, copy=args.copy)
        print(f'BPU {latency_ms:g} ms, 1080p nv12, {len(frames)} frames: serial '
              f'{serial.fps:.1f} fps (p50 {serial.p50_ms:.1f} ms, p95 {serial.p95_ms:.1f} ms), '
              f'pipelined {pipelined.fps:.1f} fps (p50 {pipelined.p50_ms:.1f} ms, p95 '
              f'{pipelined.p95_ms:.1f} ms): ratio {pipelined.fps / serial.fps:.2f}')


if __name__ == '__main__':
    main()
