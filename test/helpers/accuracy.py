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

"""Accuracy of a model on held-out shapes scenes: pycocotools box mAP50 and mean mask IoU."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from helpers import pip_only
from helpers.shapes_dataset import generate_scene, SHAPE_CLASS_NAMES
import numpy as np
import pytest
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor
from yolov8_seg_ros.evaluation import coco_detections, score
from yolov8_seg_ros.preprocess import Preprocessor

HELD_OUT_SEED = 7  # training used dev/models/train_shapes_model.py's dataset_seed

COCO = pytest.importorskip('pycocotools.coco', reason=pip_only('pycocotools'),
                           exc_type=ImportError).COCO


class Accuracy(NamedTuple):
    """Box mAP at IoU 0.5 (COCO protocol) and the mean best-match mask IoU per GT instance."""

    box_map50: float
    mean_mask_iou: float
    num_instances: int


def evaluate(model_path: str, num_scenes: int = 40, backend: str = 'onnxruntime',
             size_wh: tuple[int, int] = (640, 480), overlapping: bool = False) -> Accuracy:
    """
    Run the project's own pipeline over held-out scenes and score it against ground truth.

    overlapping: scenes whose shapes partly cover each other (scored on the visible parts).
    """
    model = create_backend(backend, model_path)
    preprocess = Preprocessor(model.input_wh, model.input_format)
    rng = np.random.default_rng(HELD_OUT_SEED)
    images, annotations, detections, ious = [], [], [], []
    decoder = None
    for image_id in range(1, num_scenes + 1):
        scene = generate_scene(rng, *size_wh, overlapping=overlapping)
        tensor = preprocess(scene.image_bgr, 'bgr8')
        outputs = model.infer(tensor.tensor)
        decoder = decoder or SegPostprocessor.for_outputs(outputs)
        result = decoder(outputs, tensor.transform, DecodeConfig(conf_threshold=0.01))
        images.append({'id': image_id, 'width': size_wh[0], 'height': size_wh[1]})
        for instance in scene.instances:
            x1, y1, x2, y2 = instance.box_xyxy.tolist()
            annotations.append({'id': len(annotations) + 1, 'image_id': image_id,
                                'category_id': instance.class_id, 'iscrowd': 0,
                                'bbox': [x1, y1, x2 - x1, y2 - y1],
                                'area': float(instance.mask.sum())})
            best = 0.0
            for k in np.flatnonzero((result.class_ids == instance.class_id)
                                    & (result.scores >= 0.25)):
                mask = result.masks[k].full(size_wh)
                union = (mask | instance.mask).sum()
                best = max(best, float((mask & instance.mask).sum() / union) if union else 0.0)
            ious.append(best)
        detections.extend(coco_detections(dataclasses.replace(result, masks=()), image_id,
                                          range(len(SHAPE_CLASS_NAMES))))
    truth = COCO()
    names = dict(enumerate(SHAPE_CLASS_NAMES))
    truth.dataset = {'images': images, 'annotations': annotations,
                     'categories': [{'id': i, 'name': n} for i, n in names.items()]}
    truth.createIndex()
    box = score(truth, detections, 'bbox', names)
    return Accuracy(box.map50, float(np.mean(ious)), len(ious))
