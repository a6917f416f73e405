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
yolov8-seg-eval: COCO box and mask mAP of a model through the node's own pipeline.

Every image goes through the same preprocess, backend and postprocess as the node (so a .bin on
the board and its float .onnx on a PC are scored the same way; a one2one YOLO26 export is
decoded by top-k as its metadata file says, as in the node), and pycocotools scores the
boxes and the RLE-encoded full-resolution masks. Model class k is the k-th category of the
annotation file in id order (the usual 80-class <-> COCO id mapping). No rclpy here.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
import io
import json
from pathlib import Path
import sys
import time
from typing import Any, Optional, Sequence

import numpy as np

from yolov8_seg_ros.backends import BACKEND_NAMES, BackendError, create_backend
from yolov8_seg_ros.decode import DecodeConfig, NMS_MODES, SegmentationResult, SegPostprocessor
from yolov8_seg_ros.model_metadata import model_metadata, ModelMetadataError
from yolov8_seg_ros.preprocess import Preprocessor
from yolov8_seg_ros.transform import RESIZE_MODES

# The usual mAP protocol (ultralytics val): keep nearly everything, let the AP curve rank it.
EVAL_DECODE = DecodeConfig(conf_threshold=0.001, iou_threshold=0.7, max_det=300)


class EvaluationError(RuntimeError):
    """The model, images or annotations cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class TaskScores:
    """COCO scores of one task ('bbox' or 'segm')."""

    map50_95: float
    map50: float
    per_class_ap: dict[str, float]  # category name -> AP50-95 (NaN without ground truth)


@dataclass(frozen=True)
class EvaluationReport:
    """What yolov8-seg-eval prints."""

    backend: str
    num_images: int
    box: TaskScores
    mask: TaskScores
    images_per_s: float  # preprocess + inference + decode, excluding file reading


def coco_detections(result: SegmentationResult, image_id: int,
                    category_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Return the COCO result entries (box, score, RLE mask at the source size) of one image."""
    from pycocotools import mask as mask_utils

    entries = []
    for k, (box, score, cls) in enumerate(zip(result.boxes_xyxy, result.scores,
                                              result.class_ids)):
        entry = {'image_id': image_id, 'category_id': int(category_ids[int(cls)]),
                 'bbox': [round(float(box[0]), 3), round(float(box[1]), 3),
                          round(float(box[2] - box[0]), 3), round(float(box[3] - box[1]), 3)],
                 'score': round(float(score), 5)}
        if result.masks:
            full = np.asfortranarray(result.masks[k].full(result.image_wh).astype(np.uint8))
            rle = mask_utils.encode(full)
            entry['segmentation'] = {'size': rle['size'], 'counts': rle['counts'].decode()}
        entries.append(entry)
    return entries


def score(truth: Any, detections: list[dict[str, Any]], task: str,
          category_names: dict[int, str]) -> TaskScores:
    """Score one task with COCOeval; per-class AP50-95 from its precision table (all areas)."""
    from pycocotools.cocoeval import COCOeval

    if not detections:
        return TaskScores(0.0, 0.0, dict.fromkeys(category_names.values(), 0.0))
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(truth, truth.loadRes(detections), task)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval['precision']  # (iou, recall, class, area, max_dets)
    per_class = {}
    for k, category in enumerate(evaluation.params.catIds):
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        per_class[category_names[category]] = float(values.mean()) if values.size else \
            float('nan')
    return TaskScores(max(0.0, float(evaluation.stats[0])), max(0.0, float(evaluation.stats[1])),
                      per_class)


def evaluate(model_path: str, images_dir: Path, annotations: Path, backend: str = 'auto',
             resize_mode: str = 'letterbox', imgsz: Optional[tuple[int, int]] = None,
             decode: DecodeConfig = EVAL_DECODE, limit: Optional[int] = None,
             results_json: Optional[Path] = None, progress: bool = True) -> EvaluationReport:
    """Run the node's pipeline over every annotated image and score it (see module docstring)."""
    import cv2
    from pycocotools.coco import COCO
    from tqdm import tqdm

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            truth = COCO(str(annotations))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EvaluationError(f'annotations {annotations}: not a COCO instances file '
                              f'({error})') from error
    category_ids = sorted(truth.getCatIds())
    names = {c['id']: c['name'] for c in truth.loadCats(category_ids)}
    try:
        model = create_backend(backend, model_path)
    except BackendError as error:
        raise EvaluationError(str(error)) from error
    input_hw = (model.input_wh[1], model.input_wh[0])
    if imgsz is not None and tuple(imgsz) != input_hw:
        raise EvaluationError(f'--imgsz {imgsz[0]}x{imgsz[1]}: the model input is fixed at '
                              f'{input_hw[0]}x{input_hw[1]} (height x width)')
    if model.layout.num_classes != len(category_ids):
        raise EvaluationError(f'the model has {model.layout.num_classes} classes and the '
                              f'annotations {len(category_ids)} categories; class k is scored '
                              'as the k-th category in id order, so they must match')
    try:
        metadata = model_metadata(model_path, model.layout)
    except ModelMetadataError as error:
        raise EvaluationError(str(error)) from error
    preprocess = Preprocessor(model.input_wh, model.input_format, resize_mode)
    postprocess = SegPostprocessor(model.layout, metadata is not None and metadata.end2end)
    image_ids = sorted(truth.getImgIds())[:limit]
    detections: list[dict[str, Any]] = []
    busy_s = 0.0
    for image_id in tqdm(image_ids, desc='yolov8-seg-eval', unit='img', disable=not progress,
                         file=sys.stderr):
        info = truth.loadImgs(image_id)[0]
        path = images_dir / info['file_name']
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise EvaluationError(f'image {path} (id {image_id}) cannot be read')
        if image.shape[:2] != (info['height'], info['width']):
            raise EvaluationError(f'image {path} is {image.shape[1]}x{image.shape[0]}; the '
                                  f'annotations say {info["width"]}x{info["height"]}')
        started = time.perf_counter()
        frame = preprocess(image, 'bgr8')
        result = postprocess(model.infer(frame.tensor), frame.transform, decode)
        busy_s += time.perf_counter() - started
        detections.extend(coco_detections(result, image_id, category_ids))
    if results_json is not None:
        results_json.write_text(json.dumps(detections))
    truth.imgs = {i: truth.imgs[i] for i in image_ids}  # score only what was run
    truth.dataset['images'] = [truth.imgs[i] for i in image_ids]
    box = score(truth, [{k: v for k, v in d.items() if k != 'segmentation'}
                        for d in detections], 'bbox', names)
    mask = score(truth, detections, 'segm', names)
    return EvaluationReport(model.name, len(image_ids), box, mask,
                            len(image_ids) / busy_s if busy_s > 0 else 0.0)


def format_report(report: EvaluationReport) -> str:
    """Format the report as the command prints it: totals, then a per-class table."""
    lines = [f'{report.num_images} images, backend {report.backend}, '
             f'{report.images_per_s:.1f} images/s (preprocess + inference + postprocess)',
             f'box   mAP50-95 {report.box.map50_95:.3f}   mAP50 {report.box.map50:.3f}',
             f'mask  mAP50-95 {report.mask.map50_95:.3f}   mAP50 {report.mask.map50:.3f}',
             '', f'{"class":<24} {"box AP":>8} {"mask AP":>8}']
    for name, box_ap in report.box.per_class_ap.items():
        mask_ap = report.mask.per_class_ap[name]
        lines.append(f'{name:<24} {box_ap:>8.3f} {mask_ap:>8.3f}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of yolov8-seg-eval."""
    from yolov8_seg_ros.export import parse_imgsz

    parser = argparse.ArgumentParser(prog='yolov8-seg-eval', description=__doc__)
    parser.add_argument('model', help='.bin (BPU) or .onnx model')
    parser.add_argument('--images', type=Path, required=True, help='folder of the images')
    parser.add_argument('--annotations', type=Path, required=True,
                        help='COCO instances JSON (with segmentation)')
    parser.add_argument('--backend', choices=BACKEND_NAMES, default='auto')
    parser.add_argument('--imgsz', type=parse_imgsz,
                        help='expected model input (N or HxW); checked against the model')
    parser.add_argument('--resize-mode', choices=RESIZE_MODES, default='letterbox')
    parser.add_argument('--conf', type=float, default=EVAL_DECODE.conf_threshold)
    parser.add_argument('--iou', type=float, default=EVAL_DECODE.iou_threshold)
    parser.add_argument('--max-det', type=int, default=EVAL_DECODE.max_det)
    parser.add_argument('--nms-mode', choices=NMS_MODES, default=EVAL_DECODE.nms_mode,
                        help='auto: top-k without NMS for a one2one model (per its metadata '
                        'file), NMS otherwise; as the node parameter nms_mode')
    parser.add_argument('--limit', type=int, help='evaluate only the first N images (by id)')
    parser.add_argument('--save-json', type=Path, help='write the COCO results JSON here')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    try:
        decode = DecodeConfig(conf_threshold=args.conf, iou_threshold=args.iou,
                              max_det=args.max_det, nms_mode=args.nms_mode)
        report = evaluate(args.model, args.images, args.annotations, args.backend,
                          args.resize_mode, args.imgsz, decode, args.limit, args.save_json,
                          progress=not args.no_progress)
    except (EvaluationError, ValueError, OSError) as error:
        print(f'yolov8-seg-eval: {error}', file=sys.stderr)
        return 1
    print(format_report(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
