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
Run the yolov8_seg node with a backend that returns recorded raw outputs instantly.

This measures the node's own cost (conversion, preprocess, decode, render, messages, DDS).

By default the backend runs the real model once, on the first frame, and returns those outputs
for every later frame (the bench sends the same image each time); the real backend's own
warm-up at load does not go through it. With YOLOV8_SEG_BENCH_HEADS=file.npz it returns the
heads saved there instead (the bench's crafted COCO-shaped heads, large objects included).
Arguments are the node's ROS arguments.
"""

import os
from pathlib import Path
import sys
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'test'))
from helpers.wrapped_backend import WrappedBackend  # noqa: E402, I100
from yolov8_seg_ros.backends import Backend, create_backend  # noqa: E402
from yolov8_seg_ros.layout import RawOutput, resolve_layout  # noqa: E402
from yolov8_seg_ros.node import main  # noqa: E402


class RecordedOutputsBackend(WrappedBackend):
    """Wraps a real backend: the first frame is inferred, later frames replay its outputs."""

    name = 'recorded_outputs'

    def __init__(self, real: Backend) -> None:
        super().__init__(real)
        self._recorded: Optional[list[RawOutput]] = None

    def infer(self, tensor) -> list[RawOutput]:
        """Return the outputs recorded on the first frame."""
        if self._recorded is None:
            self._recorded = self._real.infer(tensor)
        return self._recorded


def save_heads(path: Path, outputs: list[RawOutput]) -> None:
    """Write raw outputs (data and per-channel scales) for ReplayedHeadsBackend."""
    arrays = {f'data{i}': o.data for i, o in enumerate(outputs)}
    arrays.update({f'scale{i}': o.scale for i, o in enumerate(outputs) if o.scale is not None})
    np.savez(path, **arrays)


class ReplayedHeadsBackend:
    """Returns heads saved by save_heads for every frame; an RGB model of their input size."""

    name = 'replayed_heads'

    def __init__(self, path: str) -> None:
        with np.load(path) as saved:
            self._outputs = [RawOutput(saved[f'data{i}'], saved.get(f'scale{i}'))
                             for i in range(10)]
        self.layout = resolve_layout([o.data.shape for o in self._outputs],
                                     [o.scale is not None for o in self._outputs])
        self.model_path = path
        self.input_wh = (self.layout.input_hw[1], self.layout.input_hw[0])
        self.input_format = 'rgb_nchw'
        self.runtime_version = 'recorded'
        self.warnings = ()

    def infer(self, tensor) -> list[RawOutput]:
        """Return the saved heads."""
        return self._outputs


def bench_factory(name: str, model_path: str, **kwargs) -> Backend:
    """Backend factory for yolov8_seg_ros.node.main (also in an inference process)."""
    heads = os.environ.get('YOLOV8_SEG_BENCH_HEADS')
    latency_ms = os.environ.get('YOLOV8_SEG_BENCH_BPU_MS')
    if heads and latency_ms:  # the BPU emulated: its time as a GIL-holding sleep, no CPU
        from emulated_bpu import EmulatedBpuBackend
        return EmulatedBpuBackend(heads, float(latency_ms))
    if heads:
        return ReplayedHeadsBackend(heads)
    return RecordedOutputsBackend(create_backend(name, model_path, **kwargs))


if __name__ == '__main__':
    raise SystemExit(main(sys.argv, backend_factory=bench_factory))
