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
Fake of the RDK X5 pyeasy_dnn for x86 tests, mirroring shared/reference/hobot-dnn-api.md.

A fake ".bin" is a JSON manifest naming a split-head ONNX. forward() reads exactly H*W*3/2 bytes
from the input's data pointer (no dtype, contiguity or size check, like the real one; reading
past the end of the buffer raises here instead of corrupting memory), converts NV12 to RGB as
the BPU does for an nv12-input model, runs the ONNX with ONNX Runtime and quantizes the box and
mask-coefficient heads to int32 with fixed per-channel scales: what the seed's modified .bin
returns. Sharp edges kept: outputs are persistent buffers overwritten by the next forward,
every .buffer access returns a fresh 4-D copy, properties have exactly the documented fields
(the protos are labelled NCHW while their shape is NHWC), estimate_latency is always 100, and
forward holds the GIL for the BPU time: a manifest's latency_ms (default 0) is spent in a C
sleep that keeps the GIL, like the real call (only the ONNX Runtime part here releases it).
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

MAGIC = 'fake-hobot-dnn-bin'
# A PyDLL call keeps the GIL, as the real forward does for the whole inference.
_GIL_HOLDING_LIBC = ctypes.PyDLL(None)
_QUANTIZED_CHANNELS = (32, 64)


class TensorProperties:
    """Exactly the documented fields; anything else raises AttributeError."""

    __slots__ = ('tensor_type', 'dtype', 'layout', 'shape', 'scale_data', 'alignedShape',
                 'validShape')

    def __init__(self, tensor_type: str, dtype: str, layout: str, shape: tuple[int, ...],
                 scale_data: np.ndarray) -> None:
        self.tensor_type = tensor_type
        self.dtype = dtype
        self.layout = layout
        self.shape = shape
        self.scale_data = scale_data
        self.alignedShape = id(self) + 16  # an address, as the real binding returns
        self.validShape = id(self) + 32


class Tensor:
    """name, properties, and buffer: a fresh 4-D copy of the persistent data on every access."""

    __slots__ = ('name', 'properties', '_storage')

    def __init__(self, name: str, properties: TensorProperties, storage: np.ndarray) -> None:
        self.name = name
        self.properties = properties
        self._storage = storage

    @property
    def buffer(self) -> np.ndarray:
        return self._storage.copy()


class Model:
    """One loaded fake model."""

    def __init__(self, manifest_path: Path) -> None:
        import onnxruntime as ort
        manifest = json.loads(manifest_path.read_text())
        if manifest.get('format') != MAGIC:
            raise RuntimeError(f'hbDNNInitializeFromFiles failed: {manifest_path} is not a model')
        onnx_path = (manifest_path.parent / manifest['onnx']).resolve()
        self.name = manifest_path.stem
        self._latency_us = int(float(manifest.get('latency_ms', 0)) * 1000)
        self._session = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
        shape = self._session.get_inputs()[0].shape
        self._height, self._width = int(shape[2]), int(shape[3])
        self._input = Tensor('images', TensorProperties(
            'NV12', 'uint8', 'NCHW', (1, 3, self._height, self._width),
            np.zeros(0, np.float32)), np.zeros((1, 3, self._height, self._width), np.uint8))
        self._names = [o.name for o in self._session.get_outputs()]
        self._storage: list[np.ndarray] = []
        self._props: list[TensorProperties] = []
        protos_hw = (self._height // 4, self._width // 4)
        for out, scale in zip(self._session.get_outputs(), manifest['scales']):
            out_shape = tuple(int(d) for d in out.shape)
            if scale is not None:
                props = TensorProperties('int32', 'int32', 'NHWC', out_shape,
                                         np.asarray(scale, np.float32))
                self._storage.append(np.zeros(out_shape, np.int32))
            else:
                layout = 'NCHW' if out_shape[1:3] == protos_hw else 'NHWC'
                props = TensorProperties('float32', 'float32', layout, out_shape,
                                         np.zeros(0, np.float32))
                self._storage.append(np.zeros(out_shape, np.float32))
            self._props.append(props)

    @property
    def inputs(self) -> list[Tensor]:
        return [self._input]

    @property
    def outputs(self) -> list[Tensor]:
        return [Tensor(n, p, s) for n, p, s in zip(self._names, self._props, self._storage)]

    @property
    def estimate_latency(self) -> int:
        return 100

    def forward(self, arg: Any, core_id: int = 0, priority: int = 0) -> list[Tensor]:
        if not isinstance(arg, np.ndarray):
            raise SystemError('<built-in method forward> returned a result with an exception '
                              'set: input must be a numpy array')
        count = self._width * self._height * 3 // 2
        raw = np.frombuffer(_read_raw(arg, count), dtype=np.uint8)
        nv12 = raw.reshape(self._height * 3 // 2, self._width)
        rgb = cv2.cvtColorTwoPlane(nv12[:self._height],
                                   nv12[self._height:].reshape(self._height // 2,
                                                               self._width // 2, 2),
                                   cv2.COLOR_YUV2RGB_NV12)
        tensor = rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        results = self._session.run(None, {self._session.get_inputs()[0].name: tensor})
        for storage, props, value in zip(self._storage, self._props, results):
            if props.scale_data.size:
                limit = np.iinfo(np.int32).max
                storage[...] = np.clip(np.round(value / props.scale_data), -limit, limit)
            else:
                storage[...] = value
        if self._latency_us:
            _GIL_HOLDING_LIBC.usleep(self._latency_us)
        return self.outputs


def _read_raw(array: np.ndarray, count: int) -> bytes:
    """Read count bytes from the array data pointer, as the runtime memcpy does."""
    base = array
    while isinstance(base.base, np.ndarray):
        base = base.base
    available = base.ctypes.data + base.nbytes - array.ctypes.data
    if available < count:
        raise SystemError(f'forward would read {count} bytes from a buffer of {available}: '
                          'out-of-bounds read on the board (undefined behaviour)')
    return ctypes.string_at(array.ctypes.data, count)


def load(path_or_list: Any) -> list[Model]:
    """Load models like pyeasy_dnn.load: one Model per file."""
    paths = [path_or_list] if isinstance(path_or_list, (str, Path)) else list(path_or_list)
    return [Model(Path(p)) for p in paths]


def write_fake_bin(onnx_path: Path, bin_path: Path, latency_ms: float = 0.0) -> Path:
    """
    Write a fake .bin manifest for an exported split-head ONNX, with calibrated scales.

    latency_ms is the emulated BPU time each forward spends holding the GIL.
    """
    import onnxruntime as ort
    session = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    shape = session.get_inputs()[0].shape
    rng = np.random.default_rng(0)
    sample = rng.random((1, 3, int(shape[2]), int(shape[3])), dtype=np.float32)
    scales: list[Any] = []
    protos_hw = (int(shape[2]) // 4, int(shape[3]) // 4)
    outputs = session.run(None, {session.get_inputs()[0].name: sample})
    for index, out in enumerate(outputs):
        channels = out.shape[-1]
        # The seed's export order starts with 3 mask-coefficient and 3 box heads.
        if index < 6 and channels in _QUANTIZED_CHANNELS and out.shape[1:3] != protos_hw:
            peak = np.abs(out).reshape(-1, channels).max(axis=0)
            scales.append((np.maximum(peak, 1e-3) * 8.0 / 2 ** 24).tolist())
        else:
            scales.append(None)
    bin_path.write_text(json.dumps({'format': MAGIC, 'onnx': str(Path(onnx_path).resolve()),
                                    'scales': scales, 'latency_ms': latency_ms}))
    return bin_path
