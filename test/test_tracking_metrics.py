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
MOT metrics of the tracker on the trained shapes model's real detections (motmetrics).

Moving-shapes sequences (test/helpers/shapes_sequences.py: constant velocity and turns,
crossings, occlusions, objects entering and leaving) at 30 fps, run through the project's
pipeline and tracked; MOTA, IDF1 and ID switches against the ground-truth ids, with every frame
and with every second frame dropped (the node's latest-frame policy under load), at the default
conf_threshold and at 0.5 (above track_high_score, where only ByteTrack's low-score stage keeps
tracks alive). The tracker is fed as the node feeds it: every detection down to track_low_score,
ids scored on the published ones (>= conf_threshold).
"""

from __future__ import annotations

from helpers import pip_only
from helpers.models import SHAPES_ONNX
from helpers.shapes_sequences import generate_sequence
from helpers.tracking_eval import detect, score_tracking
import numpy as np
import pytest
from yolov8_seg_ros.decode import SegmentationResult
from yolov8_seg_ros.pipeline import track_result
from yolov8_seg_ros.tracking import ByteTracker

# One xdist worker runs the whole module, so the detections are computed once.
pytestmark = pytest.mark.xdist_group('tracking_metrics')

# Measured with the low-score stage (IDF1, MOTA, ID switches per 100 ground-truth track-frames);
# the bounds allow 1.5x the measured error: (1 - IDF1), (1 - MOTA) and switches.
MEASURED = {(0.25, False): (0.919, 0.892, 0.14), (0.25, True): (0.916, 0.887, 0.27),
            (0.5, False): (0.829, 0.731, 0.14), (0.5, True): (0.828, 0.730, 0.27)}


@pytest.fixture(scope='module')
def detected_sequences():
    """Six 3 s sequences at 30 fps (seeds not used to choose the defaults), detected once."""
    pytest.importorskip('motmetrics', reason=pip_only('motmetrics'), exc_type=ImportError)
    sequences = []
    for seed in range(100, 106):
        frames = generate_sequence(seed, num_frames=90, fps=30.0)
        sequences.append((frames, detect(str(SHAPES_ONNX), frames)))  # the node's decode
    return sequences


def at_conf(result: SegmentationResult, conf: float) -> SegmentationResult:
    """Return the same decode at another conf_threshold: published and low sets split at conf."""
    boxes = np.concatenate([result.boxes_xyxy, result.low_boxes_xyxy])
    scores = np.concatenate([result.scores, result.low_scores])
    count = int(np.count_nonzero(scores >= conf))  # both sets are by descending score
    return SegmentationResult(boxes[:count], scores[:count], np.zeros(count, np.int32), (),
                              result.image_wh, boxes[count:], scores[count:])


def sequences_at(detected, conf: float, dropped: bool):
    step = 2 if dropped else 1
    return [(frames[::step], [at_conf(r, conf) for r in results][::step])
            for frames, results in detected]


def bytetrack():
    tracker = ByteTracker()
    return lambda result, stamp: track_result(tracker, result, stamp)


def published_only():
    """Return a tracker fed only what is published (as the node fed it before the low stage)."""
    tracker = ByteTracker()
    return lambda result, stamp: tracker.update(result.boxes_xyxy, result.scores, stamp)


@pytest.fixture(scope='module')
def bytetrack_scores(detected_sequences):
    """Return the node's tracking scores per (conf, dropped), each computed once (slow)."""
    cache = {}

    def scores(conf: float, dropped: bool):
        if (conf, dropped) not in cache:
            cache[conf, dropped] = score_tracking(
                sequences_at(detected_sequences, conf, dropped), bytetrack)
        return cache[conf, dropped]
    return scores


@pytest.mark.parametrize('conf', [0.25, 0.5])
@pytest.mark.parametrize('dropped', [False, True], ids=['every frame', 'every second frame'])
def test_mot_metrics_on_the_shapes_model_detections(bytetrack_scores, conf, dropped):
    scores = bytetrack_scores(conf, dropped)
    assert scores.gt_track_frames > (1000 if dropped else 2000)
    idf1, mota, switches = MEASURED[conf, dropped]
    assert scores.idf1 >= 1.0 - 1.5 * (1.0 - idf1), scores
    assert scores.mota >= 1.0 - 1.5 * (1.0 - mota), scores
    assert scores.switches_per_100 <= 1.5 * switches, scores


def test_the_low_score_stage_is_what_keeps_ids_above_track_high_score(detected_sequences,
                                                                      bytetrack_scores):
    # conf_threshold 0.5 >= track_high_score 0.35: fed only the published detections, the
    # tracker's second association has nothing to match, and ids switch more than twice as
    # often (8 switches against 3 on the same published boxes).
    fed_all = bytetrack_scores(0.5, False)
    fed_published = score_tracking(sequences_at(detected_sequences, 0.5, False), published_only)
    assert fed_published.id_switches >= 2 * fed_all.id_switches > 0, (fed_published, fed_all)


def test_per_frame_indices_fail_the_same_metrics(detected_sequences):
    # What Detection2D.id held before tracking: the bar above is not met by accident (two of
    # the sequences are enough to show it).
    scores = score_tracking(sequences_at(detected_sequences[:2], 0.25, False),
                            lambda: lambda result, stamp: list(range(1, len(result) + 1)))
    assert scores.idf1 < 0.6 and scores.switches_per_100 > 10, scores
