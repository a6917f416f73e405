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

"""The YOLO26 shapes model as a .bin through both runtime fakes, both layouts, backend auto."""

import shutil

import cv2
from helpers.fake_runtime import fake_module, write_fake_bin
from helpers.models import SHAPES_YOLO26_ONNX
from helpers.shapes_dataset import generate_scene, SHAPE_CLASS_NAMES
import numpy as np
import pytest
import yaml
from yolov8_seg_ros.backends import BackendError, create_backend
from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor
from yolov8_seg_ros.model_metadata import SUFFIX
from yolov8_seg_ros.pipeline import SegmentationPipeline
from yolov8_seg_ros.preprocess import bgr_to_nv12
from yolov8_seg_ros.tracking import box_iou_matrix

METADATA = SHAPES_YOLO26_ONNX.with_name(SHAPES_YOLO26_ONNX.stem + SUFFIX)
DEFAULT = DecodeConfig()


@pytest.fixture(scope='module')
def yolo26_bins(tmp_path_factory):
    """Fake .bin files of the YOLO26 shapes model per layout, each with its metadata file."""
    folder = tmp_path_factory.mktemp('y26bin')
    bins = {}
    for layout in ('int32', 'float32'):
        bins[layout] = write_fake_bin(SHAPES_YOLO26_ONNX, folder / f'y26_{layout}.bin', layout)
        shutil.copyfile(METADATA, folder / f'y26_{layout}{SUFFIX}')
    return bins


def frame_and_reference(backend, pipeline):
    """One shapes scene through the .bin, and ONNX Runtime on the very RGB pixels it sees."""
    scene = generate_scene(np.random.default_rng(21), 640, 480)
    frame = pipeline.preprocessor(bgr_to_nv12(scene.image_bgr), 'nv12')
    outputs = backend.infer(frame.tensor)
    planes = frame.tensor.reshape(480, 320)
    rgb = cv2.cvtColorTwoPlane(planes[:320], planes[320:].reshape(160, 160, 2),
                               cv2.COLOR_YUV2RGB_NV12)
    onnx = OnnxRuntimeBackend(str(SHAPES_YOLO26_ONNX))
    ort_outputs = onnx.infer(rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
    reference = SegPostprocessor.for_outputs(ort_outputs, end2end=True)(
        ort_outputs, frame.transform, DEFAULT)
    return scene, frame, outputs, reference


@pytest.mark.parametrize('layout', ['int32', 'float32'])
@pytest.mark.parametrize('runtime', ['hobot_dnn', 'hbm_runtime'])
def test_yolo26_bin_through_both_runtimes_decodes_as_onnxruntime(bpu_backends, yolo26_bins,
                                                                 runtime, layout):
    backend = bpu_backends[runtime](yolo26_bins[layout])
    assert backend.name == runtime and backend.layout.reg_max == 1
    pipeline = SegmentationPipeline(backend, 'letterbox', list(SHAPE_CLASS_NAMES))
    # The metadata beside the .bin says one2one: top-k without NMS.
    assert pipeline.metadata.branch == 'one2one' and pipeline.postprocessor.end2end
    scene, frame, outputs, reference = frame_and_reference(backend, pipeline)
    channels = [o.data.shape[-1] for o in outputs]
    if layout == 'int32':  # the seed order; box and mask-coefficient heads int32 + scales
        assert [o.scale is not None for o in outputs] == [True] * 6 + [False] * 4
        assert outputs[3].data.dtype == np.int32 and channels == [32] * 3 + [4] * 6 + [32]
        assert [lv.box for lv in backend.layout.levels] == [3, 4, 5]
    else:  # the model zoo's [class, box, mask-coef] per level: two 4-channel heads a level
        assert not any(o.scale is not None for o in outputs)
        assert channels == [4, 4, 32] * 3 + [32]
        assert [(lv.cls, lv.box) for lv in backend.layout.levels] == [(0, 1), (3, 4), (6, 7)]
    decoded = pipeline.postprocessor(outputs, frame.transform, DEFAULT)
    assert len(decoded) == len(reference) >= 2
    assert sorted(decoded.class_ids.tolist()) == sorted(reference.class_ids.tolist())
    assert box_iou_matrix(decoded.boxes_xyxy, reference.boxes_xyxy).max(axis=1).min() > 0.98
    if layout == 'float32':  # no quantization: the same numbers as ONNX Runtime
        np.testing.assert_allclose(decoded.boxes_xyxy, reference.boxes_xyxy, atol=1e-3)
    # And every shape of the scene is found, with its class.
    for instance in scene.instances:
        same_class = decoded.boxes_xyxy[decoded.class_ids == instance.class_id]
        assert box_iou_matrix(instance.box_xyxy[None], same_class).max(initial=0.0) >= 0.8


def test_backend_auto_picks_the_same_runtime_as_for_v8(yolo26_bins):
    # As test_backend_selection.py for the v8 model: hbm_runtime where the image has it.
    with fake_module('hbm_runtime'):
        for path in yolo26_bins.values():
            backend = create_backend('auto', str(path))
            assert backend.name == 'hbm_runtime' and backend.layout.reg_max == 1


def test_a_bin_without_metadata_is_decoded_with_nms_and_a_wrong_one_is_refused(
        bpu_backends, tmp_path):
    # The model zoo's published .bin files have no metadata file: NMS, right for either branch.
    plain = write_fake_bin(SHAPES_YOLO26_ONNX, tmp_path / 'zoo.bin', 'float32')
    backend = bpu_backends['hbm_runtime'](plain)
    pipeline = SegmentationPipeline(backend, 'letterbox', list(SHAPE_CLASS_NAMES))
    assert pipeline.metadata is None and not pipeline.postprocessor.end2end
    assert pipeline.postprocessor.uses_nms(DecodeConfig())
    assert not pipeline.postprocessor.uses_nms(DecodeConfig(nms_mode='topk'))
    document = yaml.safe_load(METADATA.read_text())
    (tmp_path / f'zoo{SUFFIX}').write_text(yaml.safe_dump({**document, 'imgsz': [640, 640]}))
    with pytest.raises(BackendError, match=r'640x640.*another model'):
        SegmentationPipeline(backend, 'letterbox', list(SHAPE_CLASS_NAMES))
