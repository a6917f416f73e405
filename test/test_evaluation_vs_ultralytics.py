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
yolov8-seg-eval against an independent implementation: ultralytics' own YOLO(pt).val().

The same 40 held-out shapes scenes as test_evaluation.py, given to ultralytics as a YOLO
segmentation set (polygons of the same masks). The two protocols differ on purpose, so the
numbers agree within a tolerance, not exactly: ultralytics letterboxes each batch to a
rectangle (pad 114; ours: the node's fixed 320x320, pad 127), keeps several classes per box
(multi-label NMS, up to 30000 boxes into NMS; ours: the node's one class per box, 1000), scores
masks at the model input size against rasterised polygons (ours: full-resolution RLE masks
against the exact masks) and computes AP itself (ours: pycocotools).
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers import pip_only
from helpers.models import SHAPES_ONNX, SHAPES_PT, SHAPES_YOLO26_ONNX, SHAPES_YOLO26_PT
from helpers.shapes_dataset import mask_to_polygon, SHAPE_CLASS_NAMES, write_coco_dataset
import numpy as np
import pytest

pytest.importorskip('pycocotools', reason=pip_only('pycocotools'), exc_type=ImportError)
pytest.importorskip('ultralytics', reason=pip_only('ultralytics'), exc_type=ImportError)
pytest.importorskip('torch', reason=pip_only('torch'), exc_type=ImportError)

# Measured on this set: ultralytics val box 0.813 / 0.967, mask 0.764 / 0.967 (mAP50-95 /
# mAP50); yolov8-seg-eval box 0.792 / 0.961, mask 0.779 / 0.961.
TOLERANCE = {'map50_95': 0.03, 'map50': 0.02}
# The YOLO26 shapes model (105 epochs in all, one thread), measured: ultralytics val (nms=False)
# box 0.845 / 0.952, mask 0.840 / 0.952; yolov8-seg-eval box 0.846 / 0.955, mask 0.817 / 0.955.
YOLO26_FLOOR = {'map50_95': 0.7, 'map50': 0.9}


def yolo_set_from_coco(images: Path, annotations: Path, root: Path) -> Path:
    """Write the COCO set as an ultralytics segmentation set (same images); return data.yaml."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    truth = COCO(str(annotations))
    category_ids = sorted(truth.getCatIds())
    (root / 'images' / 'val').mkdir(parents=True)
    (root / 'labels' / 'val').mkdir(parents=True)
    for info in truth.loadImgs(truth.getImgIds()):
        os.symlink(images / info['file_name'], root / 'images' / 'val' / info['file_name'])
        lines = []
        for annotation in truth.loadAnns(truth.getAnnIds(imgIds=info['id'])):
            polygon = mask_to_polygon(mask_utils.decode(annotation['segmentation']))
            polygon /= np.array([info['width'], info['height']])
            lines.append(f'{category_ids.index(annotation["category_id"])} '
                         + ' '.join(f'{v:.6f}' for v in polygon.reshape(-1)))
        (root / 'labels' / 'val' / f'{Path(info["file_name"]).stem}.txt').write_text(
            '\n'.join(lines) + '\n')
    names = '\n'.join(f'  {i}: {name}' for i, name in enumerate(SHAPE_CLASS_NAMES))
    data = root / 'data.yaml'
    data.write_text(f'path: {root}\ntrain: images/val\nval: images/val\nnames:\n{names}\n')
    return data


def check_agreement(tmp_path, pt, onnx, floor, **val_args):
    """Score onnx with yolov8-seg-eval and pt with YOLO(pt).val() on the same 40 scenes."""
    from ultralytics import YOLO
    from yolov8_seg_ros.evaluation import EVAL_DECODE, evaluate

    annotations = write_coco_dataset(tmp_path / 'coco', 40, seed=7)
    images = tmp_path / 'coco' / 'images'
    data = yolo_set_from_coco(images, annotations, tmp_path / 'yolo')
    theirs = YOLO(str(pt)).val(
        data=str(data), imgsz=320, batch=8, conf=EVAL_DECODE.conf_threshold,
        max_det=EVAL_DECODE.max_det, device='cpu', plots=False, verbose=False, workers=0,
        project=str(tmp_path / 'runs'), **val_args)
    ours = evaluate(str(onnx), images, annotations, progress=False)
    pairs = {'box': (ours.box, theirs.box.map, theirs.box.map50),
             'mask': (ours.mask, theirs.seg.map, theirs.seg.map50)}
    for task, (scores, map50_95, map50) in pairs.items():
        # A real comparison: the model finds the shapes.
        assert map50 > floor['map50'] and map50_95 > floor['map50_95'], (task, map50_95, map50)
        assert scores.map50_95 == pytest.approx(map50_95, abs=TOLERANCE['map50_95']), task
        assert scores.map50 == pytest.approx(map50, abs=TOLERANCE['map50']), task


def test_eval_agrees_with_ultralytics_val_on_the_same_set(tmp_path):
    from yolov8_seg_ros.evaluation import EVAL_DECODE
    check_agreement(tmp_path, SHAPES_PT, SHAPES_ONNX, {'map50_95': 0.7, 'map50': 0.9},
                    iou=EVAL_DECODE.iou_threshold)


def test_eval_of_the_yolo26_model_agrees_with_ultralytics_val(tmp_path):
    # The one2one export (its metadata file says so) is scored with top-k and no NMS, so
    # ultralytics validates the same branch: nms=False (its default, nms unset, would run the
    # one2many branch with NMS).
    check_agreement(tmp_path, SHAPES_YOLO26_PT, SHAPES_YOLO26_ONNX, YOLO26_FLOOR, nms=False)
