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

"""MOT metrics (motmetrics: MOTA, IDF1, ID switches) of a tracker on real detections."""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple, Optional, Sequence

from helpers.shapes_sequences import SequenceFrame
import numpy as np
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.decode import DecodeConfig, SegmentationResult, SegPostprocessor
from yolov8_seg_ros.parameters import default_values, runtime_config
from yolov8_seg_ros.preprocess import Preprocessor
from yolov8_seg_ros.tracking import box_iou_matrix

# One frame's tracker output: a track id (or None) per detection of the result.
Tracker = Callable[[SegmentationResult, float], Sequence[Optional[int]]]


class TrackingScores(NamedTuple):
    """CLEAR-MOT and identity scores of one or more sequences."""

    mota: float
    idf1: float
    id_switches: int
    gt_track_frames: int  # scored ground-truth objects summed over frames
    misses: int
    false_positives: int

    @property
    def switches_per_100(self) -> float:
        """ID switches per 100 ground-truth track-frames."""
        return 100.0 * self.id_switches / max(self.gt_track_frames, 1)


def node_decode(**parameters: object) -> DecodeConfig:
    """Return the node's decode config for its defaults with these changes, without masks."""
    config = runtime_config({**default_values(), **parameters}).decode
    return dataclasses.replace(config, with_masks=False)


def detect(model_path: str, frames: Sequence[SequenceFrame],
           config: Optional[DecodeConfig] = None) -> list[SegmentationResult]:
    """Run the project's preprocess, backend and decode (default: the node's) on every frame."""
    config = node_decode() if config is None else config
    backend = create_backend('auto', model_path)
    preprocess = Preprocessor(backend.input_wh, backend.input_format)
    decoder = SegPostprocessor(backend.layout)
    results = []
    for frame in frames:
        tensor = preprocess(frame.image_bgr, 'bgr8')
        results.append(decoder(backend.infer(tensor.tensor), tensor.transform, config))
    return results


def score_tracking(sequences: Sequence[tuple[Sequence[SequenceFrame],
                                             Sequence[SegmentationResult]]],
                   make_tracker: Callable[[], Tracker]) -> TrackingScores:
    """Track every sequence with a fresh tracker and score all of them together."""
    import motmetrics as mm

    accumulators = []
    total = 0
    for frames, results in sequences:
        tracker = make_tracker()
        accumulator = mm.MOTAccumulator(auto_id=True)
        for frame, result in zip(frames, results):
            ids = tracker(result, frame.stamp_s)
            hyp = [(i, box) for i, box in zip(ids, result.boxes_xyxy) if i is not None]
            truth = [(g.object_id, g.box_xyxy) for g in frame.instances if g.scored]
            hyp = _without_ignored(hyp, truth, [g.box_xyxy for g in frame.instances
                                                if not g.scored])
            total += len(truth)
            distances = mm.distances.iou_matrix(_xywh([b for _, b in truth]),
                                                _xywh([b for _, b in hyp]), max_iou=0.5)
            accumulator.update([i for i, _ in truth], [i for i, _ in hyp], distances)
        accumulators.append(accumulator)
    metrics = mm.metrics.create()
    names = ['mota', 'idf1', 'num_switches', 'num_misses', 'num_false_positives']
    summary = metrics.compute_many(accumulators, metrics=names, generate_overall=True)
    overall = summary.loc['OVERALL']
    return TrackingScores(float(overall['mota']), float(overall['idf1']),
                          int(overall['num_switches']), total, int(overall['num_misses']),
                          int(overall['num_false_positives']))


def _without_ignored(hyp: list[tuple[int, np.ndarray]], truth: list[tuple[int, np.ndarray]],
                     ignored: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """Drop hypotheses on barely visible objects, unless they cover a scored object better."""
    if not hyp or not ignored:
        return hyp
    boxes = np.array([b for _, b in hyp], np.float64)
    on_ignored = box_iou_matrix(boxes, np.array(ignored, np.float64)).max(axis=1)
    on_scored = (box_iou_matrix(boxes, np.array([b for _, b in truth], np.float64)).max(axis=1)
                 if truth else np.zeros(len(hyp)))
    return [h for h, a, b in zip(hyp, on_ignored, on_scored) if not (a >= 0.5 and a > b)]


def _xywh(boxes: Sequence[np.ndarray]) -> np.ndarray:
    if not boxes:
        return np.zeros((0, 4))
    xyxy = np.asarray(boxes, np.float64)
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
