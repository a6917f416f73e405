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
The board-runtime fakes keep the sharp edges their references document.

shared/reference/hobot-dnn-api.md (pyeasy_dnn) and hbm-runtime-api.md (hbm_runtime): a fake
that is kinder than the real runtime would let a backend bug through to the board.
"""

from pathlib import Path
import threading
import time

from helpers.fake_runtime import write_fake_bin
from helpers.models import SHAPES_ONNX
from helpers.shapes_dataset import generate_scene
import numpy as np
import pytest
from yolov8_seg_ros.preprocess import bgr_to_nv12, Preprocessor


def shapes_nv12() -> np.ndarray:
    scene = generate_scene(np.random.default_rng(5), 640, 480)
    return Preprocessor((320, 320), 'nv12')(bgr_to_nv12(scene.image_bgr), 'nv12').tensor


def gil_blocked_s(call) -> float:
    """Longest pause of a 1 ms ticker thread while call() runs in this one."""
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
        call()
        time.sleep(0.05)
    finally:
        running.clear()
        ticker.join()
    return float(max(np.diff(ticks)))


def test_pyeasy_dnn_fake_mirrors_the_documented_sharp_edges(pyeasy_dnn, fake_bin):
    model = pyeasy_dnn.load(str(fake_bin))[0]
    assert model.estimate_latency == 100
    assert model.outputs is not model.outputs  # a fresh list on every access
    props = model.inputs[0].properties
    assert (props.tensor_type, props.shape) == ('NV12', (1, 3, 320, 320))
    assert model.inputs[0].buffer.dtype == np.int8
    with pytest.raises(AttributeError):
        props.quantiType  # noqa: B018
    assert isinstance(props.alignedShape, int)
    protos = model.outputs[9].properties
    assert protos.layout == 'NCHW' and protos.shape == (1, 80, 80, 32)
    box = model.outputs[3].properties
    assert box.scale_data is not box.scale_data and box.scale_data.size == 64
    box.scale_data[:] = 0  # a fresh array: the model's scales are untouched
    assert box.scale_data.min() > 0
    frame = shapes_nv12()
    first = model.forward(frame)
    assert all(isinstance(t, pyeasy_dnn.pyDNNTensor) for t in first)
    kept = first[3].buffer
    assert first[3].buffer is not first[3].buffer and kept.dtype == np.int32
    model.forward(np.full_like(frame, 128))
    assert not np.array_equal(first[3].buffer, kept)  # persistent buffer, overwritten
    assert np.array_equal(model.forward([frame])[3].buffer, kept)  # a list of arrays
    assert np.array_equal(model.forward((frame,))[3].buffer, kept)  # or a tuple
    model.forward(frame[:100])  # no size check: reads on past the view, as on the board
    with pytest.raises(SystemError, match='out-of-bounds'):
        model.forward(np.zeros(100, np.uint8))
    with pytest.raises(SystemError):
        model.forward(frame.tolist())


def test_pyeasy_dnn_fake_load_takes_str_or_list_of_str(pyeasy_dnn, fake_bin, tmp_path):
    assert len(pyeasy_dnn.load([str(fake_bin), str(fake_bin)])) == 2
    for wrong in (Path(fake_bin), (str(fake_bin),)):
        with pytest.raises(SystemError):
            pyeasy_dnn.load(wrong)
    with pytest.raises(SystemError):
        pyeasy_dnn.load(str(tmp_path / 'missing.bin'))


def test_pyeasy_dnn_fake_serves_the_float32_model_zoo_layout(pyeasy_dnn, fake_bins):
    model = pyeasy_dnn.load(str(fake_bins['float32']))[0]
    props = [t.properties for t in model.outputs]
    assert [p.tensor_type for p in props] == ['float32'] * 10
    assert all(p.scale_data.size == 0 for p in props)
    assert [p.shape[1:] for p in props[:3]] == [(40, 40, 4), (40, 40, 64), (40, 40, 32)]
    assert props[9].shape == (1, 80, 80, 32) and props[9].layout == 'NCHW'
    assert [t.name for t in model.outputs][:3] == ['output0', 'output1', '516']


def test_pyeasy_dnn_fake_forward_holds_the_gil_for_its_bpu_latency(pyeasy_dnn, tmp_path):
    model = pyeasy_dnn.load(str(write_fake_bin(SHAPES_ONNX, tmp_path / 'slow.bin',
                                               latency_ms=200.0)))[0]
    # Another Python thread cannot run while the emulated BPU works, as on the board.
    assert gil_blocked_s(lambda: model.forward(np.zeros(320 * 320 * 3 // 2, np.uint8))) >= 0.2


def test_hbm_runtime_fake_metadata_is_keyed_by_the_embedded_model_name(hbm_runtime, fake_bin):
    runtime = hbm_runtime.HB_HBMRuntime(str(fake_bin))
    assert hbm_runtime.HB_HBMRuntime.version() == runtime.version()
    name = runtime.model_names[0]
    assert name != Path(fake_bin).stem and runtime.model_count == 1
    assert runtime.input_names[name] == ['images']
    assert runtime.input_shapes[name]['images'] == [1, 3, 320, 320]
    assert runtime.input_dtypes[name]['images'].name == 'NV12'
    outputs = runtime.output_names[name]
    assert runtime.output_counts[name] == len(outputs) == 10
    quants = runtime.output_quants[name]
    box = quants[outputs[3]]
    assert box.quant_type.name == 'SCALE' and box.axis == 3 and box.scale.size == 64
    assert not box.zero_point.any()
    assert quants[outputs[9]].quant_type == hbm_runtime.hbDNNQuantiType.NONE
    assert runtime.output_dtypes[name][outputs[3]].name == 'S32'
    assert runtime.output_dtypes[name][outputs[9]] == hbm_runtime.hbDNNDataType.F32
    assert runtime.output_strides[name][outputs[9]] == [819200, 10240, 128, 4]  # NHWC bytes
    with pytest.raises(AttributeError):
        box.stride  # noqa: B018
    assert runtime.sched_params[name].bpu_cores == [-1]


def test_hbm_runtime_fake_run_accepts_the_three_documented_forms(hbm_runtime, fake_bins):
    runtime = hbm_runtime.HB_HBMRuntime(str(fake_bins['int32']))
    name = runtime.model_names[0]
    frame = shapes_nv12()
    nested = runtime.run({name: {'images': frame}})
    assert list(nested) == [name] and list(nested[name]) == runtime.output_names[name]
    flat = runtime.run({'images': frame})[name]
    bare = runtime.run(frame, model_name=name)[name]
    for key, value in nested[name].items():
        assert value.ndim == 4 and np.array_equal(value, flat[key])
        assert np.array_equal(value, bare[key])
    box = nested[name][runtime.output_names[name][3]]
    assert box.dtype == np.int32  # raw: hbm_runtime does not dequantize
    box[...] = 0  # fresh arrays: the next run is not affected
    assert runtime.run(frame)[name][runtime.output_names[name][3]].any()
    assert np.array_equal(runtime.run(frame[::-1].copy()[::-1])[name][runtime.output_names[
        name][3]], flat[runtime.output_names[name][3]])  # non-contiguous input copied


@pytest.mark.parametrize('call, error, message', [
    (lambda rt, f: rt.run(f.astype(np.float32)), ValueError, 'Data type mismatch'),
    (lambda rt, f: rt.run(f[:-2]), ValueError, 'Shape mismatch'),
    (lambda rt, f: rt.run({'nv12': f}), ValueError, 'input names'),
    (lambda rt, f: rt.run({'other_model': {'images': f}}), ValueError, 'not found'),
    (lambda rt, f: rt.run(f.tolist()), TypeError, 'expected an ndarray'),
    (lambda rt, f: rt.set_scheduling_params(priority={rt.model_names[0]: 300}), ValueError,
     'priority'),
    (lambda rt, f: rt.set_scheduling_params(bpu_cores={rt.model_names[0]: [1]}), ValueError,
     'core'),
    (lambda rt, f: rt.set_scheduling_params(bpu_cores={'other_model': [0]}), ValueError,
     'not found'),
    # pybind11 converts every argument: per-model dicts of ints (of lists of ints) only.
    (lambda rt, f: rt.set_scheduling_params(priority=5), TypeError, 'incompatible function'),
    (lambda rt, f: rt.set_scheduling_params(priority={rt.model_names[0]: 5.0}), TypeError,
     'incompatible function'),
    (lambda rt, f: rt.set_scheduling_params(bpu_cores={rt.model_names[0]: 0}), TypeError,
     'incompatible function'),
    (lambda rt, f: rt.set_scheduling_params(bpu_cores={rt.model_names[0]: ['0']}), TypeError,
     'incompatible function'),
])
def test_hbm_runtime_fake_raises_what_the_real_one_raises(hbm_runtime, fake_bin, call, error,
                                                          message):
    runtime = hbm_runtime.HB_HBMRuntime(str(fake_bin))
    with pytest.raises(error, match=message):
        call(runtime, shapes_nv12())


def test_hbm_runtime_fake_load_errors(hbm_runtime, fake_bin, tmp_path):
    with pytest.raises(TypeError, match='incompatible constructor arguments'):
        hbm_runtime.HB_HBMRuntime(Path(fake_bin))
    with pytest.raises(RuntimeError):
        hbm_runtime.HB_HBMRuntime(str(tmp_path / 'missing.bin'))
    assert hbm_runtime.HB_HBMRuntime([str(fake_bin)]).model_count == 1


def test_hbm_runtime_fake_float32_layout_and_gil(hbm_runtime, fake_bins, tmp_path):
    runtime = hbm_runtime.HB_HBMRuntime(str(fake_bins['float32']))
    name = runtime.model_names[0]
    quants = runtime.output_quants[name]
    assert all(q.quant_type.name == 'NONE' for q in quants.values())
    outputs = runtime.run(shapes_nv12())[name]
    assert all(v.dtype == np.float32 for v in outputs.values())
    assert [v.shape[-1] for v in outputs.values()] == [4, 64, 32] * 3 + [32]
    slow = hbm_runtime.HB_HBMRuntime(str(write_fake_bin(SHAPES_ONNX, tmp_path / 'slow.bin',
                                                        'float32', latency_ms=200.0)))
    assert gil_blocked_s(lambda: slow.run(np.zeros(320 * 320 * 3 // 2, np.uint8))) >= 0.2


def test_pyeasy_dnn_fake_forward_parses_core_id_and_priority_as_the_binding(pyeasy_dnn,
                                                                            fake_bin):
    model = pyeasy_dnn.load(str(fake_bin))[0]
    frame = shapes_nv12()
    tasks = model._model.tasks  # what reached the emulated BPU (the fake's record)
    model.forward(frame)
    model.forward(frame, 1, 200)  # core_id 1 is core 0; positional as in the C signature
    model.forward(frame, core_id=0, priority=np.int64(255))  # anything with __index__
    assert list(tasks) == [(0, (-1,)), (200, (0,)), (255, (-1,))]
    # Not a C int: the parse fails and the binding returns None with the TypeError set.
    for wrong in ({'core_id': 1.0}, {'priority': 'high'}, {'priority': None}):
        with pytest.raises(SystemError, match='returned a result with an exception set') as e:
            model.forward(frame, **wrong)
        assert isinstance(e.value.__cause__, TypeError)
    # Parsed, but hbDNNInfer refuses it: the X5 has no core 1 (core_id 2), priority is 0..255.
    for wrong in ({'core_id': 2}, {'core_id': -1}, {'priority': 256}, {'priority': -1}):
        with pytest.raises(SystemError) as error:
            model.forward(frame, **wrong)
        assert str(error.value.__cause__) == 'forward execution failed.'
    assert len(tasks) == 3  # no failed call reached the BPU


def test_hbm_runtime_fake_keeps_its_scheduling_for_every_later_run(hbm_runtime, fake_bin):
    runtime = hbm_runtime.HB_HBMRuntime(str(fake_bin))
    name = runtime.model_names[0]
    tasks = runtime._models[name].tasks  # what reached the emulated BPU (the fake's record)
    frame = shapes_nv12()
    runtime.run(frame)
    runtime.set_scheduling_params(priority={name: 9})
    runtime.run(frame)
    runtime.set_scheduling_params(bpu_cores={name: [0]}, custom_id={name: 3})
    runtime.run(frame)
    assert list(tasks) == [(0, (-1,)), (9, (-1,)), (9, (0,))]
    sched = runtime.sched_params[name]
    assert (sched.priority, sched.bpu_cores, sched.customId, sched.deviceId) == (9, [0], 3, 0)
    with pytest.raises(ValueError):
        runtime.set_scheduling_params(priority={name: 300})
    assert runtime.sched_params[name].priority == 9  # a refused setting changes nothing
