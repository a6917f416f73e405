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
and with every second frame dropped (the node's latest-frame policy under load).
"""

from __future__ import annotations

from helpers import pip_only
from helpers.models import SHAPES_ONNX
from helpers.shapes_sequences import generate_sequence
from helpers.tracking_eval import detect, score_tracking
import pytest
from yolov8_seg_ros.tracking import ByteTracker

# One xdist worker runs the whole module, so the detections are computed once.
pytestmark = pytest.mark.xdist_group('tracking_metrics')


@pytest.fixture(scope='module')
def detected_sequences():
    """Six 3 s sequences at 30 fps (seeds not used to choose the defaults), detected once."""
    pytest.importorskip('motmetrics', reason=pip_only('motmetrics'), exc_type=ImportError)
    sequences = []
    for seed in range(100, 106):
        frames = generate_sequence(seed, num_frames=90, fps=30.0)
        sequences.append((frames, detect(str(SHAPES_ONNX), frames)))
    return sequences


def bytetrack():
    tracker = ByteTracker()
    return lambda result, stamp: tracker.update(result.boxes_xyxy, result.scores, stamp)


@pytest.mark.parametrize('dropped', [False, True], ids=['every frame', 'every second frame'])
def test_mot_metrics_on_the_shapes_model_detections(detected_sequences, dropped):
    sequences = [(f[::2], r[::2]) if dropped else (f, r) for f, r in detected_sequences]
    scores = score_tracking(sequences, bytetrack)
    assert scores.gt_track_frames > (1000 if dropped else 2000)
    assert scores.idf1 >= 0.9, scores
    assert scores.switches_per_100 <= 1.0, scores
    assert scores.mota >= 0.8, scores


def test_per_frame_indices_fail_the_same_metrics(detected_sequences):
    # What Detection2D.id held before tracking: the bar above is not met by accident.
    scores = score_tracking(detected_sequences,
                            lambda: lambda result, stamp: list(range(1, len(result) + 1)))
    assert scores.idf1 < 0.6 and scores.switches_per_100 > 10, scores
