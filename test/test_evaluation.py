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
yolov8-seg-eval as a user runs it: a separate process on a COCO-format set, output parsed.

The set is 40 held-out shapes scenes (seed 7, category ids from 1). The expected numbers were
measured with this command and are asserted to +-0.01 (ONNX Runtime and OpenCV versions differ
between the test environments); the BPU paths run through the runtime fakes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from helpers import pip_only
from helpers.fake_runtime import FAKES, write_fake_bin
from helpers.models import ROOT, SHAPES_ONNX, SHAPES_YOLO11_ONNX
from helpers.shapes_dataset import SHAPE_CLASS_NAMES, write_coco_dataset
import numpy as np
import pytest

pytest.importorskip('pycocotools', reason=pip_only('pycocotools'), exc_type=ImportError)
pytest.importorskip('tqdm', reason=pip_only('tqdm'), exc_type=ImportError)

# Measured: yolov8-seg-eval MODEL.onnx on this set (box/mask mAP50-95, mAP50).
EXPECTED_ONNX = {'box': (0.792, 0.961), 'mask': (0.779, 0.961)}  # shapes_seg_320.onnx
EXPECTED_YOLO11 = {'box': (0.715, 0.858), 'mask': (0.692, 0.858)}  # shapes_yolo11_seg_320.onnx


@pytest.fixture(scope='module')
def coco_set(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco_shapes')
    return root / 'images', write_coco_dataset(root, 40, seed=7)


def run_eval(model, coco_set, *args, pythonpath=()):
    images, annotations = coco_set
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([*map(str, pythonpath), str(ROOT),
                                         env.get('PYTHONPATH', '')])
    return subprocess.run([sys.executable, '-m', 'yolov8_seg_ros.evaluation', str(model),
                           '--images', str(images), '--annotations', str(annotations), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def scores(stdout):
    found = {}
    for task in ('box', 'mask'):
        match = re.search(rf'^{task}\s+mAP50-95 ([0-9.]+)\s+mAP50 ([0-9.]+)$', stdout, re.M)
        assert match, stdout
        found[task] = (float(match.group(1)), float(match.group(2)))
    return found


def test_eval_reports_box_and_mask_map_of_the_shapes_model(coco_set, tmp_path):
    results = tmp_path / 'results.json'
    done = run_eval(SHAPES_ONNX, coco_set, '--save-json', str(results), '--imgsz', '320')
    assert done.returncode == 0, done.stderr
    found = scores(done.stdout)
    for task, expected in EXPECTED_ONNX.items():
        assert found[task] == pytest.approx(expected, abs=0.01), (task, done.stdout)
    assert re.search(r'^40 images, backend onnxruntime, [0-9.]+ images/s', done.stdout, re.M)
    for name in SHAPE_CLASS_NAMES:  # the per-class table
        assert re.search(rf'^{name}\s+[0-9.]+\s+[0-9.]+$', done.stdout, re.M), done.stdout
    assert '40/40' in done.stderr  # the progress bar
    # The saved results are what COCO tools load: RLE masks, the annotation file's category ids.
    from pycocotools.coco import COCO
    truth = COCO(str(coco_set[1]))
    loaded = truth.loadRes(str(results))
    detections = loaded.loadAnns(loaded.getAnnIds())
    assert len(detections) > 100
    assert {d['category_id'] for d in detections} <= {1, 2, 3, 4}
    assert all(isinstance(d['segmentation']['counts'], str) for d in detections)


@pytest.mark.slow
def test_eval_scores_the_yolo11_seg_model(coco_set):
    done = run_eval(SHAPES_YOLO11_ONNX, coco_set, '--no-progress')
    assert done.returncode == 0, done.stderr
    found = scores(done.stdout)
    for task, expected in EXPECTED_YOLO11.items():
        assert found[task] == pytest.approx(expected, abs=0.01), (task, done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize('layout, backend', [('int32', 'auto'), ('float32', 'hobot_dnn')])
def test_eval_scores_a_bin_on_the_bpu_runtimes_like_its_onnx(coco_set, tmp_path, layout,
                                                             backend):
    model = write_fake_bin(SHAPES_ONNX, tmp_path / f'shapes_{layout}.bin', layout)
    done = run_eval(model, coco_set, '--backend', backend, '--no-progress',
                    pythonpath=[FAKES])
    assert done.returncode == 0, done.stderr
    runtime = 'hbm_runtime' if backend == 'auto' else backend
    assert f'backend {runtime},' in done.stdout
    found = scores(done.stdout)
    # The BPU sees NV12 (chroma at half resolution) where ONNX Runtime sees RGB.
    for task, expected in EXPECTED_ONNX.items():
        assert found[task] == pytest.approx(expected, abs=0.02), (task, done.stdout)


@pytest.mark.parametrize('change, message', [
    ('categories', 'the model has 4 classes and the annotations 3 categories'),
    ('imgsz', 'the model input is fixed at 320x320'),
    ('missing image', 'cannot be read'),
])
def test_eval_refuses_what_it_cannot_score_with_a_clear_error(coco_set, tmp_path, change,
                                                              message):
    images, annotations = coco_set
    data = json.loads(annotations.read_text())
    extra = []
    if change == 'categories':
        data['categories'] = data['categories'][:3]
    elif change == 'imgsz':
        extra = ['--imgsz', '640']
    else:
        data['images'][0]['file_name'] = 'nowhere.png'
    edited = tmp_path / 'instances.json'
    edited.write_text(json.dumps(data))
    done = run_eval(SHAPES_ONNX, (images, edited), '--no-progress', *extra)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert 'Traceback' not in done.stderr


def test_eval_limit_scores_only_the_images_it_ran(coco_set):
    done = run_eval(SHAPES_ONNX, coco_set, '--limit', '5', '--no-progress')
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('5 images, backend onnxruntime')
    found = scores(done.stdout)
    assert found['box'][1] > 0.8  # not diluted by the 35 images that were not run


def test_ground_truth_fed_in_as_detections_scores_1(coco_set):
    # The scoring itself (COCO result entries, RLE, box convention, category mapping) against
    # an independent bar: the annotations themselves as detections must score exactly 1.
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from yolov8_seg_ros.decode import InstanceMask, SegmentationResult
    from yolov8_seg_ros.evaluation import coco_detections, score

    truth = COCO(str(coco_set[1]))
    category_ids = sorted(truth.getCatIds())
    names = {c['id']: c['name'] for c in truth.loadCats(category_ids)}
    detections = []
    for image_id in truth.getImgIds():
        info = truth.loadImgs(image_id)[0]
        annotations = truth.loadAnns(truth.getAnnIds(imgIds=image_id))
        boxes = np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                           a['bbox'][1] + a['bbox'][3]] for a in annotations], np.float32)
        masks = tuple(InstanceMask(0, 0, mask_utils.decode(a['segmentation']))
                      for a in annotations)
        result = SegmentationResult(
            boxes.reshape(-1, 4), np.linspace(0.9, 0.5, len(annotations), dtype=np.float32),
            np.array([category_ids.index(a['category_id']) for a in annotations], np.int32),
            masks, (info['width'], info['height']))
        detections.extend(coco_detections(result, image_id, category_ids))
    assert len(detections) == len(truth.getAnnIds()) > 100
    box = score(truth, [{k: v for k, v in d.items() if k != 'segmentation'}
                        for d in detections], 'bbox', names)
    mask = score(truth, detections, 'segm', names)
    assert (box.map50_95, box.map50, mask.map50_95, mask.map50) == (1.0, 1.0, 1.0, 1.0)
    assert set(box.per_class_ap.values()) == set(mask.per_class_ap.values()) == {1.0}
