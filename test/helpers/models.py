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

"""Model files for tests: the committed trained shapes model, and exported COCO-shaped models."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cv2
from helpers.shapes_dataset import generate_scene, ShapeScene
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / 'test' / 'fixtures'
SHAPES_ONNX = FIXTURES / 'models' / 'shapes_seg_320.onnx'
SHAPES_PT = FIXTURES / 'models' / 'shapes_seg_320.pt'
# shapes_seg_320 fine-tuned on scenes 60 % of which overlap (make model): the 3D accuracy tests.
SHAPES_OVERLAP_ONNX = FIXTURES / 'models' / 'shapes_seg_320_overlap.onnx'
# The same shapes task learned by a YOLO11-seg (dev/models/train_shapes_model.py --arch yolo11).
SHAPES_YOLO11_ONNX = FIXTURES / 'models' / 'shapes_yolo11_seg_320.onnx'
SHAPES_YOLO11_PT = FIXTURES / 'models' / 'shapes_yolo11_seg_320.pt'
SHAPES_MODELS = {'yolov8': SHAPES_ONNX, 'yolo11': SHAPES_YOLO11_ONNX}
# The same task learned by a YOLO26-seg (--arch yolo26), exported with its one2one (NMS-free)
# branch in the seed order; its metadata file beside it says so.
SHAPES_YOLO26_ONNX = FIXTURES / 'models' / 'shapes_yolo26_seg_320.onnx'
SHAPES_YOLO26_PT = FIXTURES / 'models' / 'shapes_yolo26_seg_320.pt'
GENERATED = ROOT / 'build' / 'test_models'


def ultralytics_asset(name: str) -> np.ndarray:
    """One of the sample images ultralytics ships (bus.jpg, zidane.jpg) as BGR."""
    # Found without importing ultralytics (and torch), so the NumPy 2 run needs only its files.
    spec = importlib.util.find_spec('ultralytics')
    if spec is None or not spec.origin:
        import pytest
        pytest.skip('ultralytics (its sample images) is a pip-only test tool (no rosdep key); '
                    'pip install it to run these tests')
    image = cv2.imread(str(Path(spec.origin).parent / 'assets' / name))
    assert image is not None, f'missing ultralytics asset {name}'
    return image


def shapes_on_photo(seed: int, size_wh: tuple[int, int], photo: str) -> ShapeScene:
    """Draw a shapes scene over one of ultralytics' real photos."""
    return generate_scene(np.random.default_rng(seed), size_wh[0], size_wh[1],
                          backdrop_bgr=ultralytics_asset(photo))


def coco_shaped_onnx(imgsz: int = 640) -> Path:
    """yolov8n-seg (nc 80, random weights, seed 0) exported once per machine, cached in build/."""
    target = GENERATED / f'yolov8n-seg-coco-{imgsz}.onnx'
    if not target.exists():
        from yolov8_seg_ros.export import run_export
        tmp_dir = GENERATED / f'tmp-{os.getpid()}'
        report = run_export('yolov8n-seg.yaml', (imgsz, imgsz), tmp_dir / target.name)
        os.replace(report.onnx_path, target)  # atomic: parallel workers may race here
    return target


def yolov9_seg_onnx(imgsz: int = 160) -> Path:
    """
    yolov9c-seg (nc 80, random weights, seed 0) in the model-zoo float32 order, cached in build/.

    Its export is checked head by head against ultralytics' own model on a random input.
    """
    target = GENERATED / f'yolov9c-seg-{imgsz}.onnx'
    if not target.exists():
        from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
        from yolov8_seg_ros.export import (compare_heads, export_split_onnx, load_model,
                                           reference_heads)
        model = load_model('yolov9c-seg.yaml')
        tmp = GENERATED / f'tmp-{os.getpid()}' / target.name
        export_split_onnx(model, (imgsz, imgsz), tmp, layout='float32')
        backend = OnnxRuntimeBackend(str(tmp))
        tensor = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
        heads, _ = compare_heads([o.data for o in backend.infer(tensor)], backend.layout,
                                 reference_heads(model, tensor))
        assert heads == 10
        os.replace(tmp, target)  # atomic: parallel workers may race here
    return target


def shapes_yolo26_onnx(branch: str = 'one2one', layout: str = 'int32') -> Path:
    """
    Return the YOLO26 shapes model's ONNX for a branch and layout.

    one2one int32 is the committed export; the others are exported from the committed
    checkpoint once per machine (cached in build/, with their metadata files).
    """
    if (branch, layout) == ('one2one', 'int32'):
        return SHAPES_YOLO26_ONNX
    target = GENERATED / f'shapes_yolo26_seg_320_{branch}_{layout}.onnx'
    if not target.exists():
        from yolov8_seg_ros.export import run_export
        from yolov8_seg_ros.model_metadata import SUFFIX
        tmp_dir = GENERATED / f'tmp-{os.getpid()}'
        report = run_export(str(SHAPES_YOLO26_PT), (320, 320), tmp_dir / target.name,
                            layout=layout, branch=branch)
        os.replace(report.metadata_path, target.with_name(target.stem + SUFFIX))
        os.replace(report.onnx_path, target)  # atomic: parallel workers may race here
    return target


def single_output_onnx(path: Path) -> Path:
    """Write a valid ONNX model whose one output (1, 116, 64, 64) is no YOLOv8-seg layout."""
    import onnx
    from onnx import helper, TensorProto
    graph = helper.make_graph(
        [helper.make_node('Conv', ['images', 'w'], ['output0'])], 'plain',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, [1, 116, 64, 64])],
        [helper.make_tensor('w', TensorProto.FLOAT, [116, 3, 1, 1], [0.0] * 348)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 11)]), path)
    return path
