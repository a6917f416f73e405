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

"""The backends: ONNX Runtime for real, the two BPU runtimes through their faithful fakes."""


from pathlib import Path

import cv2
from helpers.fake_runtime import write_fake_bin
from helpers.models import SHAPES_MODELS, SHAPES_ONNX, single_output_onnx
from helpers.shapes_dataset import generate_scene
import numpy as np
import pytest
from yolov8_seg_ros.backends import BackendError, candidate_backends, create_backend, \
    NO_BPU_RUNTIME
from yolov8_seg_ros.backends.base import quantized_output, RuntimeUnavailableError
from yolov8_seg_ros.backends.hbm_runtime_backend import HbmRuntimeBackend
from yolov8_seg_ros.backends.hobot_dnn_backend import HobotDnnBackend, UNAVAILABLE
from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor
from yolov8_seg_ros.preprocess import bgr_to_nv12, Preprocessor
from yolov8_seg_ros.tracking import box_iou_matrix


def scene_nv12(seed=5):
    scene = generate_scene(np.random.default_rng(seed), 640, 480)
    return scene, bgr_to_nv12(scene.image_bgr)


def test_auto_backend_by_extension():
    assert candidate_backends('auto', 'm.bin') == ('hbm_runtime', 'hobot_dnn')
    assert candidate_backends('auto', 'm.ONNX') == ('onnxruntime',)
    assert candidate_backends('onnxruntime', 'm.bin') == ('onnxruntime',)
    assert candidate_backends('hobot_dnn', 'm.bin') == ('hobot_dnn',)
    with pytest.raises(BackendError, match=r"extension '\.tflite'"):
        candidate_backends('auto', 'm.tflite')
    with pytest.raises(BackendError, match='expected one of'):
        candidate_backends('tensorrt', 'm.onnx')


def test_missing_model_file():
    with pytest.raises(BackendError, match='does not exist'):
        create_backend('auto', '/nonexistent/model.onnx')


def test_a_bin_without_a_bpu_runtime_fails_with_one_clear_sentence(tmp_path):
    model = tmp_path / 'model.bin'
    model.write_bytes(b'\0')
    with pytest.raises(RuntimeUnavailableError) as error:
        create_backend('auto', str(model))
    assert str(error.value) == NO_BPU_RUNTIME
    with pytest.raises(RuntimeUnavailableError) as error:
        create_backend('hobot_dnn', str(model))
    assert str(error.value) == UNAVAILABLE
    with pytest.raises(RuntimeUnavailableError, match=r'RDK OS 3\.5\.0'):
        create_backend('hbm_runtime', str(model))


@pytest.mark.parametrize('scale, zero_point, axis, expected_scale', [
    ([0.5], None, -1, [0.5, 0.5, 0.5]),  # per tensor: broadcast, stays quantized
    ([0.5, 1.0, 2.0], [0, 0, 0], 3, [0.5, 1.0, 2.0]),  # symmetric per channel: stays quantized
    ([0.5, 1.0, 2.0], [1, 0, -1], 3, None),  # zero points: dequantized here
    ([0.5, 2.0], [0, 0], 1, None),  # another axis: dequantized here
])
def test_quantized_outputs_dequantize_as_documented(scale, zero_point, axis, expected_scale):
    data = np.arange(12, dtype=np.int32).reshape(1, 2, 2, 3)
    raw = quantized_output(data, np.array(scale), None if zero_point is None
                           else np.array(zero_point), axis)
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    zero = np.zeros(1) if zero_point is None else np.array(zero_point, float).reshape(shape)
    reference = (data - zero) * np.array(scale).reshape(shape if len(scale) > 1 else [1])
    if expected_scale is None:
        assert raw.scale is None and raw.data.dtype == np.float32
        np.testing.assert_allclose(raw.data, reference, rtol=1e-6)
    else:
        assert raw.data is data and raw.scale.tolist() == expected_scale
        np.testing.assert_allclose(raw.data * raw.scale, reference, rtol=1e-6)
    with pytest.raises(BackendError, match='2 scales'):
        quantized_output(data, np.array([1.0, 2.0]))
    floats = data.astype(np.float32)  # a float output is not quantized, whatever its scales
    assert quantized_output(floats, np.array(scale)) == (floats, None)


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


@pytest.mark.parametrize('model', ['yolov8', 'yolo11'])
@pytest.mark.parametrize('layout', ['int32', 'float32'])
@pytest.mark.parametrize('runtime', ['hobot_dnn', 'hbm_runtime'])
def test_bpu_backends_through_the_fakes_match_onnxruntime(bpu_backends, tmp_path, runtime,
                                                          layout, model):
    onnx_path = SHAPES_MODELS[model]
    backend = bpu_backends[runtime](write_fake_bin(onnx_path, tmp_path / 'model.bin', layout))
    assert backend.name == runtime and backend.input_wh == (320, 320)
    assert backend.input_format == 'nv12' and backend.runtime_version
    _, nv12 = scene_nv12()
    nv12_frame = Preprocessor(backend.input_wh, 'nv12')(nv12, 'nv12')
    outputs = backend.infer(nv12_frame.tensor)
    quantized = [o.scale is not None for o in outputs]
    if layout == 'int32':  # the seed order: mask coefficients, boxes, classes, protos
        assert quantized == [True] * 6 + [False] * 4
        assert all(o.data.dtype == np.int32 for o in outputs[:6])
    else:  # the current model zoo: [class, box, mask-coef] per level, then protos
        assert not any(quantized) and all(o.data.dtype == np.float32 for o in outputs)
        assert [o.data.shape[-1] for o in outputs] == [4, 64, 32] * 3 + [32]
        assert backend.layout.levels[0].cls == 0 and backend.layout.protos == 9
    decoded = SegPostprocessor(backend.layout)(outputs, nv12_frame.transform, DecodeConfig())
    # ONNX Runtime on the very pixels the BPU sees: only the int32 quantization differs.
    onnx = OnnxRuntimeBackend(str(onnx_path))
    bpu_input = nv12_frame.tensor.reshape(480, 320)
    rgb = cv2.cvtColorTwoPlane(bpu_input[:320], bpu_input[320:].reshape(160, 160, 2),
                               cv2.COLOR_YUV2RGB_NV12)
    ort_outputs = onnx.infer(rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
    reference = SegPostprocessor.for_outputs(ort_outputs)(ort_outputs, nv12_frame.transform,
                                                          DecodeConfig())
    assert len(decoded) == len(reference) >= 2
    assert sorted(decoded.class_ids.tolist()) == sorted(reference.class_ids.tolist())
    assert box_iou_matrix(decoded.boxes_xyxy, reference.boxes_xyxy).max(axis=1).min() > 0.98
    if layout == 'float32':  # no quantization at all: the same numbers as ONNX Runtime
        np.testing.assert_allclose(decoded.boxes_xyxy, reference.boxes_xyxy, atol=1e-3)


@pytest.mark.parametrize('runtime', ['hobot_dnn', 'hbm_runtime'])
def test_bpu_backend_input_size_and_errors(bpu_backends, fake_bin, tmp_path, runtime):
    backend = bpu_backends[runtime](fake_bin)
    with pytest.raises(BackendError, match='expected exactly 153600'):
        backend.infer(np.zeros(1000, np.uint8))
    broken = tmp_path / 'broken.bin'
    broken.write_text('{"format": "something else"}')
    with pytest.raises(BackendError, match=rf'{runtime} could not load .*broken\.bin'):
        bpu_backends[runtime](broken)


@pytest.mark.parametrize('runtime', ['hobot_dnn', 'hbm_runtime'])
def test_bpu_backends_hand_the_runtime_only_what_it_accepts(pyeasy_dnn, hbm_runtime, fake_bin,
                                                            runtime):
    # Both runtimes refuse a pathlib.Path (SystemError / TypeError); the backends take one.
    path = Path(fake_bin)
    with pytest.raises((SystemError, TypeError)):
        pyeasy_dnn.load(path) if runtime == 'hobot_dnn' else hbm_runtime.HB_HBMRuntime(path)
    backend = (HobotDnnBackend(path, pyeasy_dnn) if runtime == 'hobot_dnn'
               else HbmRuntimeBackend(path, hbm_runtime))
    # A non-contiguous view of the right size goes in as exactly H*W*3/2 contiguous bytes.
    strided = np.zeros(2 * 153600, np.uint8)[::2]
    assert not strided.flags.c_contiguous
    assert len(backend.infer(strided)) == 10


def bpu_tasks(backend) -> list:
    """Return the scheduling each inference handed the emulated BPU (the fakes record it)."""
    if backend.name == 'hbm_runtime':
        return list(backend._runtime._models[backend._model_name].tasks)
    return list(backend._model._model.tasks)


@pytest.mark.parametrize('priority, cores, reported_cores', [
    (0, [-1], {'hbm_runtime': '[-1]', 'hobot_dnn': '[-1] (forward core_id 0)'}),
    (200, [0], {'hbm_runtime': '[0]', 'hobot_dnn': '[0] (forward core_id 1)'}),
    (255, (-1,), {'hbm_runtime': '[-1]', 'hobot_dnn': '[-1] (forward core_id 0)'}),
])
@pytest.mark.parametrize('runtime', ['hobot_dnn', 'hbm_runtime'])
def test_bpu_scheduling_reaches_the_runtime_on_every_inference(pyeasy_dnn, hbm_runtime, fake_bin,
                                                               runtime, priority, cores,
                                                               reported_cores):
    backend = (HobotDnnBackend(str(fake_bin), pyeasy_dnn, bpu_priority=priority,
                               bpu_cores=cores) if runtime == 'hobot_dnn' else
               HbmRuntimeBackend(str(fake_bin), hbm_runtime, bpu_priority=priority,
                                 bpu_cores=cores))
    assert backend.scheduling == {'bpu_priority': str(priority),
                                  'bpu_cores': reported_cores[runtime]}
    _, nv12 = scene_nv12()
    backend.infer(Preprocessor(backend.input_wh, 'nv12')(nv12, 'nv12').tensor)
    tasks = bpu_tasks(backend)
    assert len(tasks) == 2  # the layout probe at load, then this frame: both scheduled
    assert all(task == (priority, tuple(cores)) for task in tasks)
    if runtime == 'hbm_runtime':  # set once, and read back through the runtime's own report
        applied = backend._runtime.sched_params[backend._model_name]
        assert (applied.priority, applied.bpu_cores) == (priority, list(cores))


@pytest.mark.parametrize('priority, cores, message', [
    (256, [-1], r'bpu_priority 256: expected an integer 0\.\.255'),
    (-1, [-1], r'bpu_priority -1: expected an integer 0\.\.255'),
    (2.5, [-1], r'bpu_priority 2\.5: expected an integer'),
    (0, [1], r'bpu_cores \[1\]: the RDK X5 BPU has 1 core \(index 0\)'),
    (0, [0, 0], r'bpu_cores \[0, 0\]: the RDK X5 BPU has 1 core'),
    (0, [-1, 0], r'bpu_cores \[-1, 0\]: -1 \(the runtime picks\) stands alone'),
    (0, [], r'bpu_cores \[\]: expected \[-1\] \(the runtime picks\) or core indices'),
    (0, [0.0], r'bpu_cores \[0\.0\]: expected'),
])
@pytest.mark.parametrize('runtime', ['hobot_dnn', 'hbm_runtime', 'auto'])
def test_bpu_scheduling_a_runtime_cannot_take_is_refused_with_the_reason(
        pyeasy_dnn, hbm_runtime, fake_bin, runtime, priority, cores, message):
    with pytest.raises(BackendError, match=message):
        if runtime == 'hobot_dnn':
            HobotDnnBackend(str(fake_bin), pyeasy_dnn, bpu_priority=priority, bpu_cores=cores)
        elif runtime == 'hbm_runtime':
            HbmRuntimeBackend(str(fake_bin), hbm_runtime, bpu_priority=priority,
                              bpu_cores=cores)
        else:  # refused before any runtime is tried
            create_backend('auto', str(fake_bin), bpu_priority=priority, bpu_cores=cores)


def test_hbm_runtime_refusing_the_scheduling_fails_the_load_with_its_reason(
        hbm_runtime, fake_bin, monkeypatch):
    def refuse(self, **settings):
        raise ValueError('Invalid BPU core id for this board')
    monkeypatch.setattr(hbm_runtime.HB_HBMRuntime, 'set_scheduling_params', refuse)
    with pytest.raises(BackendError, match=r'hbm_runtime refused bpu_priority 0 and bpu_cores '
                                           r'\[0\] .*Invalid BPU core id'):
        HbmRuntimeBackend(str(fake_bin), hbm_runtime, bpu_cores=[0])
    # The runtime's defaults are not set at all: nothing for it to refuse.
    assert HbmRuntimeBackend(str(fake_bin), hbm_runtime).scheduling['bpu_cores'] == '[-1]'


def test_onnxruntime_ignores_bpu_scheduling_and_says_so():
    plain = create_backend('onnxruntime', str(SHAPES_ONNX))
    assert plain.warnings == () and 'no BPU' in plain.scheduling['bpu_priority']
    scheduled = create_backend('auto', str(SHAPES_ONNX), bpu_priority=7, bpu_cores=[0])
    assert scheduled.name == 'onnxruntime'
    assert scheduled.warnings == ('bpu_priority 7 and bpu_cores [0] are ignored: onnxruntime '
                                  'runs no BPU model',)
    assert set(scheduled.scheduling) == {'bpu_priority', 'bpu_cores'}


def test_bpu_scheduling_parameters_use_the_backends_rules():
    from yolov8_seg_ros.parameters import SPECS, validate
    assert SPECS['bpu_priority'].applies == SPECS['bpu_cores'].applies == 'configure'
    assert (SPECS['bpu_priority'].default, SPECS['bpu_cores'].default) == (0, [-1])
    assert validate('bpu_priority', 255) is None and validate('bpu_cores', [0]) is None
    assert '0..255' in validate('bpu_priority', 256)
    assert 'has 1 core' in validate('bpu_cores', [1])
    assert 'stands alone' in validate('bpu_cores', [-1, 0])
