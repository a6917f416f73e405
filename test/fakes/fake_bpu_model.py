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
The emulated BPU model behind both runtime fakes (pyeasy_dnn and hbm_runtime).

A fake ".bin" is a JSON manifest naming a split-head ONNX exported by yolov8-seg-export (outputs
in the seed order: mask coefficients x3, boxes x3, classes x3, protos) and one of the two output
layouts a real X5 .bin has:
- 'int32' (the seed's hb_model_modifier'd model): the seed order, box and mask-coefficient heads
  int32 with per-channel scales, class heads and protos float32;
- 'float32' (current model-zoo bins): all float32, ordered [class, box, mask-coef] per stride,
  then protos; output names 'output0', 'output1', then numbers, as hrt_model_exec shows them.
The same file loads under either fake, as a real .bin loads under either runtime. The BPU's
NV12 -> RGB conversion, the ONNX run and the int32 quantization happen here; the BPU time is a
C sleep that keeps the GIL (latency_ms), as both real runtimes hold it during inference. Each
inference records the scheduling the runtime handed the BPU (tasks: priority, and cores in
hbm_runtime's numbering, -1 for any), so tests can see what reached it.
"""

from __future__ import annotations

import collections
import ctypes
from dataclasses import dataclass
import json
from pathlib import Path
from typing import NamedTuple, Optional

import cv2
import numpy as np

MAGIC = 'fake-hobot-dnn-bin'
LAYOUTS = ('int32', 'float32')
# A PyDLL call keeps the GIL, as the real runtimes do for the whole inference.
_GIL_HOLDING_LIBC = ctypes.PyDLL(None)
# Seed export order: 0-2 mask coefficients, 3-5 boxes, 6-8 classes, 9 protos.
_SEED_QUANTIZED = (0, 1, 2, 3, 4, 5)
_ZOO_ORDER = (6, 3, 0, 7, 4, 1, 8, 5, 2, 9)


class BpuTask(NamedTuple):
    """The scheduling one inference ran with: priority, and cores (hbm_runtime numbering)."""

    priority: int
    cores: tuple[int, ...]


@dataclass(frozen=True)
class FakeOutput:
    """One runtime output: its name, which ONNX output it is, and its int32 scales if any."""

    name: str
    onnx_index: int
    shape: tuple[int, ...]
    scale: Optional[np.ndarray]


class FakeBpuModel:
    """A loaded fake .bin: NV12 bytes in, outputs in the runtime's order out."""

    def __init__(self, manifest_path: Path) -> None:
        import onnxruntime as ort
        try:
            manifest = json.loads(Path(manifest_path).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise RuntimeError(f'hbDNNInitializeFromFiles failed: {manifest_path}: '
                               f'{error}') from error
        if not isinstance(manifest, dict) or manifest.get('format') != MAGIC:
            raise RuntimeError(f'hbDNNInitializeFromFiles failed: {manifest_path} is not a model')
        self.model_name = str(manifest['model_name'])
        self.layout = manifest['layout']
        self._latency_us = int(float(manifest.get('latency_ms', 0)) * 1000)
        self._session = ort.InferenceSession(manifest['onnx'],
                                             providers=['CPUExecutionProvider'])
        shape = self._session.get_inputs()[0].shape
        self.height, self.width = int(shape[2]), int(shape[3])
        self.proto_hw = (self.height // 4, self.width // 4)
        onnx_shapes = [tuple(int(d) for d in o.shape) for o in self._session.get_outputs()]
        self.outputs = tuple(
            FakeOutput(spec['name'], spec['onnx_index'], onnx_shapes[spec['onnx_index']],
                       None if spec['scale'] is None else np.asarray(spec['scale'], np.float32))
            for spec in manifest['outputs'])
        self.tasks: collections.deque[BpuTask] = collections.deque(maxlen=100)  # the latest

    @property
    def nv12_bytes(self) -> int:
        """Exactly the bytes the BPU input DMA copies for one frame."""
        return self.height * self.width * 3 // 2

    def run(self, nv12: bytes, priority: int = 0,
            cores: tuple[int, ...] = (-1,)) -> list[np.ndarray]:
        """Infer one NV12 frame (exactly nv12_bytes) as scheduled; int32 heads come back raw."""
        self.tasks.append(BpuTask(int(priority), tuple(int(c) for c in cores)))
        planes = np.frombuffer(nv12, np.uint8).reshape(self.height * 3 // 2, self.width)
        rgb = cv2.cvtColorTwoPlane(planes[:self.height],
                                   planes[self.height:].reshape(self.height // 2,
                                                                self.width // 2, 2),
                                   cv2.COLOR_YUV2RGB_NV12)
        tensor = rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        results = self._session.run(None, {self._session.get_inputs()[0].name: tensor})
        values = []
        for out in self.outputs:
            value = results[out.onnx_index]
            if out.scale is not None:
                limit = np.iinfo(np.int32).max
                value = np.clip(np.round(value / out.scale), -limit, limit).astype(np.int32)
            values.append(np.ascontiguousarray(value))
        if self._latency_us:
            _GIL_HOLDING_LIBC.usleep(self._latency_us)
        return values


def write_fake_bin(onnx_path: Path, bin_path: Path, layout: str = 'int32',
                   latency_ms: float = 0.0, model_name: Optional[str] = None) -> Path:
    """
    Write a fake .bin for an exported split-head ONNX in one of LAYOUTS.

    The int32 scales are calibrated on a random frame; latency_ms is the emulated BPU time.
    model_name is the name embedded in the .bin (default: a model-zoo style name, not the file's).
    """
    import onnxruntime as ort
    if layout not in LAYOUTS:
        raise ValueError(f'layout {layout!r}: expected one of {LAYOUTS}')
    session = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    shape = session.get_inputs()[0].shape
    sample = np.random.default_rng(0).random((1, 3, int(shape[2]), int(shape[3])),
                                             dtype=np.float32)
    results = session.run(None, {session.get_inputs()[0].name: sample})
    outputs = []
    if layout == 'int32':
        for index, value in enumerate(results):
            scale = None
            if index in _SEED_QUANTIZED:
                peak = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
                scale = (np.maximum(peak, 1e-3) * 8.0 / 2 ** 24).tolist()
            outputs.append({'name': f'output{index}', 'onnx_index': index, 'scale': scale})
    else:
        for position, index in enumerate(_ZOO_ORDER):
            name = f'output{position}' if position < 2 else str(500 + 8 * position)
            outputs.append({'name': name, 'onnx_index': index, 'scale': None})
    name = model_name or f'{Path(onnx_path).stem}_seg_bayese_{shape[3]}x{shape[2]}_nv12'
    bin_path.write_text(json.dumps({
        'format': MAGIC, 'onnx': str(Path(onnx_path).resolve()), 'model_name': name,
        'layout': layout, 'outputs': outputs, 'latency_ms': latency_ms}))
    return bin_path
