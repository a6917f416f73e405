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

"""Parity with ultralytics' own NMS and native-resolution mask processing on real outputs."""

from helpers.models import shapes_on_photo, SHAPES_ONNX, shapes_yolo26_onnx, yolov9_seg_onnx
from helpers.shapes_dataset import generate_scene
from helpers.synthetic_heads import quantize_head
from helpers.ultralytics_reference import reference_decode
import numpy as np
import pytest
from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor
from yolov8_seg_ros.layout import RawOutput
from yolov8_seg_ros.preprocess import Preprocessor
from yolov8_seg_ros.tracking import box_iou_matrix


@pytest.fixture(scope='module')
def backend():
    return OnnxRuntimeBackend(str(SHAPES_ONNX))


def quantized(outputs):
    """int32 + per-channel scale for the box and mask-coefficient heads, as the BPU .bin."""
    # Both exports here are in the seed order.
    # The exported (seed) order starts with 3 mask-coefficient and 3 box heads.
    return [quantize_head(o.data) for o in outputs[:6]] + list(outputs[6:])


@pytest.mark.parametrize('photo', ['bus.jpg', 'zidane.jpg'])
@pytest.mark.parametrize('size_wh', [(640, 480), (1920, 1080)])
@pytest.mark.parametrize('mode', ['letterbox', 'stretch'])
@pytest.mark.parametrize('quantize', [False, True])
def test_matches_ultralytics(backend, photo, size_wh, mode, quantize):
    scene = shapes_on_photo(11 + size_wh[0], size_wh, photo)
    frame = Preprocessor(backend.input_wh, backend.input_format, mode)(scene.image_bgr, 'bgr8')
    outputs = backend.infer(frame.tensor)
    if quantize:
        outputs = quantized(outputs)
    decoder = SegPostprocessor.for_outputs(outputs)
    ours = decoder(outputs, frame.transform, DecodeConfig(conf_threshold=0.25, iou_threshold=0.45))
    ref = reference_decode(outputs, decoder.layout, frame.transform, 0.25, 0.45)
    assert len(ours) == len(ref.scores) >= 2
    np.testing.assert_array_equal(ours.class_ids, ref.class_ids)
    np.testing.assert_allclose(ours.scores, ref.scores, atol=1e-4)
    ious = np.diag(box_iou_matrix(ours.boxes_xyxy, ref.boxes_xyxy))
    assert ious.min() >= 0.99, ious
    mask_ious = []
    for k, mask in enumerate(ours.masks):
        full = mask.full(frame.transform.source_wh)
        union = (full | ref.masks[k]).sum()
        assert union > 0
        mask_ious.append((full & ref.masks[k]).sum() / union)
    pad_in_proto_px = np.array(frame.transform.pad_xy) / 4
    if mode == 'letterbox' and np.any(pad_in_proto_px % 1):
        # ultralytics then interpolates twice (2x upsample, then resize), which shifts mask
        # boundaries by a fraction of a proto pixel; ours samples the exact position once
        # (pixel-exact against an independent reference in test_postprocess.py).
        assert min(mask_ious) >= 0.95 and np.mean(mask_ious) >= 0.98, mask_ious
    else:
        assert min(mask_ious) >= 0.97, mask_ious


@pytest.fixture(scope='module')
def yolo26():
    return {branch: OnnxRuntimeBackend(str(shapes_yolo26_onnx(branch)))
            for branch in ('one2one', 'one2many')}


def mask_ious(ours, ref, source_wh):
    ious = []
    for k, mask in enumerate(ours.masks):
        full = mask.full(source_wh)
        union = (full | ref.masks[k]).sum()
        assert union > 0
        ious.append((full & ref.masks[k]).sum() / union)
    return np.array(ious)


@pytest.mark.parametrize('branch', ['one2one', 'one2many'])
@pytest.mark.parametrize('seed', [1, 2])
@pytest.mark.parametrize('size_wh', [(640, 480), (1920, 1440), (1280, 720)])
@pytest.mark.parametrize('quantize', [False, True])
def test_yolo26_matches_ultralytics(yolo26, branch, seed, size_wh, quantize):
    # one2one: ultralytics' NMS-free top-k (its predictor with nms=False); one2many: its NMS.
    # Shapes scenes (the small model finds little on the photo backdrops).
    backend = yolo26[branch]
    scene = generate_scene(np.random.default_rng(seed), *size_wh)
    frame = Preprocessor(backend.input_wh, backend.input_format, 'letterbox')(
        scene.image_bgr, 'bgr8')
    outputs = backend.infer(frame.tensor)
    if quantize:
        outputs = quantized(outputs)
    end2end = branch == 'one2one'
    decoder = SegPostprocessor.for_outputs(outputs, end2end=end2end)
    assert decoder.layout.reg_max == 1 and decoder.layout.num_classes == 4
    # conf 0.05: many more candidates to compare, a cell's low-score second class among them
    # (the one2one top-k keeps every (cell, class) score above the threshold).
    ours = decoder(outputs, frame.transform, DecodeConfig(conf_threshold=0.05,
                                                          iou_threshold=0.7))
    ref = reference_decode(outputs, decoder.layout, frame.transform, 0.05, 0.7,
                           end2end=end2end)
    assert len(ours) == len(ref.scores) >= 2
    np.testing.assert_array_equal(ours.class_ids, ref.class_ids)
    np.testing.assert_allclose(ours.scores, ref.scores, atol=1e-5)
    np.testing.assert_allclose(ours.boxes_xyxy, ref.boxes_xyxy, atol=1e-3)
    ious = mask_ious(ours, ref, frame.transform.source_wh)
    if np.any(np.array(frame.transform.pad_xy) / 4 % 1):
        # Padding of a fraction of a proto pixel (1280x720: 17.5): ultralytics interpolates
        # twice (2x upsample, then resize) and shifts edges by part of a proto pixel, as in
        # test_matches_ultralytics.
        assert ious.min() >= 0.95 and ious.mean() >= 0.98, ious
    else:
        assert ious.min() >= 0.999, ious


@pytest.mark.parametrize('quantize', [False, True])
def test_yolov9_seg_export_decodes_as_ultralytics(quantize):
    # YOLOv9-seg (yolov9c-seg.yaml) has YOLO11's head: 64-channel DFL boxes. Its export runs
    # through the same layout and decode. Random weights give nearly the same value in every
    # cell (tied scores, one box), so the heads get seeded noise, and the threshold lets the
    # 30 best cells through.
    backend = OnnxRuntimeBackend(str(yolov9_seg_onnx()))
    assert [o.data.shape[-1] for o in backend.infer(
        np.zeros((1, 3, 160, 160), np.float32))] == [80, 64, 32] * 3 + [32]
    scene = shapes_on_photo(5, (640, 480), 'bus.jpg')
    frame = Preprocessor(backend.input_wh, backend.input_format, 'letterbox')(
        scene.image_bgr, 'bgr8')
    rng = np.random.default_rng(9)
    outputs = [RawOutput(o.data + rng.normal(0.0, 2.0, o.data.shape).astype(np.float32))
               for o in backend.infer(frame.tensor)]
    if quantize:  # the model zoo order: box and mask-coefficient heads of each level
        outputs = [quantize_head(o.data) if k % 3 and k < 9 else o
                   for k, o in enumerate(outputs)]
    decoder = SegPostprocessor.for_outputs(outputs)
    assert decoder.layout.reg_max == 16 and not decoder.end2end
    best = np.sort(np.concatenate([(o.data if o.scale is None else o.data * o.scale)
                                   .reshape(-1, o.data.shape[-1]).max(axis=1)
                                   for o in (outputs[lv.cls] for lv in decoder.layout.levels)]))
    conf = float(1 / (1 + np.exp(-best[-30])))
    ours = decoder(outputs, frame.transform, DecodeConfig(conf_threshold=conf * 0.999,
                                                          iou_threshold=0.7))
    ref = reference_decode(outputs, decoder.layout, frame.transform, conf * 0.999, 0.7)
    assert len(ours) == len(ref.scores) >= 5
    np.testing.assert_array_equal(ours.class_ids, ref.class_ids)
    np.testing.assert_allclose(ours.scores, ref.scores, atol=1e-5)
    np.testing.assert_allclose(ours.boxes_xyxy, ref.boxes_xyxy, atol=1e-3)
    assert mask_ious(ours, ref, frame.transform.source_wh).min() >= 0.999
