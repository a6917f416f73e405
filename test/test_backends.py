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

"""Both backends: ONNX Runtime for real, hobot_dnn through the faithful pyeasy_dnn fake."""


import threading
import time

import cv2
from helpers.geometry import box_iou
from helpers.models import SHAPES_ONNX, single_output_onnx
from helpers.shapes_dataset import generate_scene
import numpy as np
import pytest
from yolov8_seg_ros.backends import BackendError, create_backend, resolve_backend_name
from yolov8_seg_ros.backends.hobot_dnn_backend import HobotDnnBackend, UNAVAILABLE
from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor
from yolov8_seg_ros.preprocess import bgr_to_nv12, Preprocessor


def scene_nv12(seed=5):
    scene = generate_scene(np.random.default_rng(seed), 640, 480)
    return scene, bgr_to_nv12(scene.image_bgr)


def test_auto_backend_by_extension():
    assert resolve_backend_name('auto', 'm.bin') == 'hobot_dnn'
    assert resolve_backend_name('auto', 'm.ONNX') == 'onnxruntime'
    assert resolve_backend_name('onnxruntime', 'm.bin') == 'onnxruntime'
    with pytest.raises(BackendError, match=r"extension '\.tflite'"):
        resolve_backend_name('auto', 'm.tflite')
    with pytest.raises(BackendError, match='expected one of'):
        resolve_backend_name('tensorrt', 'm.onnx')


def test_missing_model_file():
    with pytest.raises(BackendError, match='does not exist'):
        create_backend('auto', '/nonexistent/model.onnx')


def test_hobot_dnn_without_the_runtime_fails_with_one_clear_sentence(tmp_path):
    model = tmp_path / 'model.bin'
    model.write_bytes(b'\0')
    with pytest.raises(BackendError) as error:
        create_backend('auto', str(model))
    assert str(error.value) == UNAVAILABLE


def test_onnxruntime_backend_loads_validates_and_runs():
    backend = OnnxRuntimeBackend(str(SHAPES_ONNX), num_threads=1)
    assert backend.input_wh == (320, 320) and backend.input_format == 'rgb_nchw'
    outputs = backend.infer(np.zeros((1, 3, 320, 320), np.float32))
    assert len(outputs) == 10 and all(o.scale is None for o in outputs)
    assert backend.warnings == ()


def test_onnxruntime_unavailable_provider_falls_back_to_cpu_with_a_warning():
    backend = OnnxRuntimeBackend(str(SHAPES_ONNX), providers=('cuda', 'cpu'))
    assert backend.providers == ('CPUExecutionProvider',)
    assert 'cuda' in backend.warnings[0]


def test_onnxruntime_rejects_a_model_without_split_heads(tmp_path):
    path = single_output_onnx(tmp_path / 'plain.onnx')
    with pytest.raises(BackendError, match=r'\(1, 116, 64, 64\)'):
        OnnxRuntimeBackend(str(path))


def test_fake_mirrors_the_documented_sharp_edges(pyeasy_dnn, fake_bin):
    model = pyeasy_dnn.load(str(fake_bin))[0]
    assert model.estimate_latency == 100
    assert model.outputs is not model.outputs  # a fresh list on every access
    props = model.inputs[0].properties
    assert (props.tensor_type, props.shape) == ('NV12', (1, 3, 320, 320))
    with pytest.raises(AttributeError):
        props.quantiType  # noqa: B018
    assert isinstance(props.alignedShape, int)
    protos = model.outputs[9].properties
    assert protos.layout == 'NCHW' and protos.shape == (1, 80, 80, 32)
    _, nv12 = scene_nv12()
    frame = Preprocessor((320, 320), 'nv12')(nv12, 'nv12').tensor
    first = model.forward(frame)
    kept = first[3].buffer
    assert first[3].buffer is not first[3].buffer and kept.dtype == np.int32
    model.forward(np.full_like(frame, 128))
    assert not np.array_equal(first[3].buffer, kept)  # persistent buffer, overwritten
    model.forward(frame[:100])  # no size check: reads on past the view, as on the board
    with pytest.raises(SystemError, match='out-of-bounds'):
        model.forward(np.zeros(100, np.uint8))


def test_fake_forward_holds_the_gil_for_its_bpu_latency(pyeasy_dnn, tmp_path):
    model = pyeasy_dnn.load(str(pyeasy_dnn.write_fake_bin(
        SHAPES_ONNX, tmp_path / 'slow.bin', latency_ms=200.0)))[0]
    frame = np.zeros(320 * 320 * 3 // 2, np.uint8)
    ticks: list[float] = []
    running = threading.Event()
    running.set()

    def tick() -> None:
        while running.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)
    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        time.sleep(0.05)
        model.forward(frame)
        time.sleep(0.05)
    finally:
        running.clear()
        ticker.join()
    # Another Python thread cannot run while the emulated BPU works, as on the board.
    assert max(np.diff(ticks)) >= 0.2


def test_hobot_dnn_backend_through_the_fake_matches_onnxruntime(pyeasy_dnn, fake_bin):
    hobot = HobotDnnBackend(str(fake_bin), pyeasy_dnn)
    assert hobot.input_wh == (320, 320) and hobot.input_format == 'nv12'
    _, nv12 = scene_nv12()
    nv12_frame = Preprocessor(hobot.input_wh, 'nv12')(nv12, 'nv12')
    outputs = hobot.infer(nv12_frame.tensor)
    assert [o.scale is not None for o in outputs] == [True] * 6 + [False] * 4
    assert all(o.data.dtype == np.int32 for o in outputs[:6])
    decoded = SegPostprocessor.for_outputs(outputs)(outputs, nv12_frame.transform,
                                                    DecodeConfig())
    # ONNX Runtime on the very pixels the BPU sees: only the int32 quantization differs.
    onnx = OnnxRuntimeBackend(str(SHAPES_ONNX))
    bpu_input = nv12_frame.tensor.reshape(480, 320)
    rgb = cv2.cvtColorTwoPlane(bpu_input[:320], bpu_input[320:].reshape(160, 160, 2),
                               cv2.COLOR_YUV2RGB_NV12)
    ort_outputs = onnx.infer(rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
    reference = SegPostprocessor.for_outputs(ort_outputs)(ort_outputs, nv12_frame.transform,
                                                          DecodeConfig())
    assert len(decoded) == len(reference) >= 2
    assert sorted(decoded.class_ids.tolist()) == sorted(reference.class_ids.tolist())
    assert box_iou(decoded.boxes_xyxy, reference.boxes_xyxy).max(axis=1).min() > 0.98


def test_hobot_dnn_backend_input_size_and_errors(pyeasy_dnn, fake_bin, tmp_path):
    hobot = HobotDnnBackend(str(fake_bin), pyeasy_dnn)
    with pytest.raises(BackendError, match='expected exactly 153600'):
        hobot.infer(np.zeros(1000, np.uint8))
    broken = tmp_path / 'broken.bin'
    broken.write_text('{"format": "something else"}')
    with pytest.raises(BackendError, match=r'broken\.bin'):
        HobotDnnBackend(str(broken), pyeasy_dnn)
