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

"""The tracker's rules on crafted boxes (MOT metrics: test_tracking_metrics.py)."""

from __future__ import annotations

from helpers.models import SHAPES_ONNX
from helpers.shapes_dataset import generate_scene
import numpy as np
import pytest
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.image_conversion import SourceImage
from yolov8_seg_ros.parameters import default_values, runtime_config
from yolov8_seg_ros.pipeline import SegmentationPipeline
from yolov8_seg_ros.tracking import ByteTracker, TrackerConfig

DT = 1.0 / 30.0


def box(cx: float, cy: float, size: float = 40.0) -> list[float]:
    return [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]


def run(tracker, boxes, scores, stamp):
    return tracker.update(np.array(boxes, np.float64).reshape(-1, 4), np.array(scores), stamp)


def test_a_moving_object_keeps_its_id_and_a_new_one_waits_for_its_second_frame():
    tracker = ByteTracker()
    assert run(tracker, [box(100, 100)], [0.9], 0.0) == [1]  # the first frame confirms at once
    ids = []
    for k in range(1, 30):
        frame = [box(100 + 6 * k, 100)] + ([box(400, 300)] if k >= 10 else [])
        ids.append(run(tracker, frame, [0.9] * len(frame), k * DT))
    assert all(i[0] == 1 for i in ids)
    assert ids[9][1] is None and ids[10][1] == 2  # unconfirmed on its first frame only
    assert all(i[1] == 2 for i in ids[10:])


def test_dropped_frames_only_lengthen_the_prediction_step():
    # 12 px per frame (360 px/s): with 5 frames dropped the box moves 72 px, further than its
    # own size, so only the velocity carried over the time step keeps the id.
    tracker = ByteTracker()
    for k in range(10):
        assert run(tracker, [box(100 + 12 * k, 200)], [0.9], k * DT) == [1]
    assert run(tracker, [box(100 + 12 * 15, 200)], [0.9], 15 * DT) == [1]
    counter = ByteTracker()  # the same jump with a frame counter's step would be lost
    for k in range(10):
        run(counter, [box(100 + 12 * k, 200)], [0.9], k * DT)
    assert run(counter, [box(100 + 12 * 15, 200)], [0.9], 10 * DT) != [1]


def test_a_lost_track_is_found_again_within_the_lost_time_only():
    config = TrackerConfig(lost_time_s=0.5)
    tracker = ByteTracker(config)
    run(tracker, [box(200, 200)], [0.9], 0.0)
    run(tracker, [box(200, 200)], [0.9], DT)
    run(tracker, [], [], 0.2)  # occluded
    assert run(tracker, [box(200, 200)], [0.9], 0.4) == [1]
    run(tracker, [], [], 0.5)
    run(tracker, [box(200, 200)], [0.9], 1.0)  # 0.6 s unseen: a new, unconfirmed track
    assert run(tracker, [box(200, 200)], [0.9], 1.0 + DT) == [2]


def test_low_score_detections_extend_tracks_but_start_none():
    tracker = ByteTracker()  # high_score 0.35, new_score 0.4
    run(tracker, [box(100, 100)], [0.9], 0.0)
    assert run(tracker, [box(103, 100)], [0.3], DT) == [1]  # BYTE's second association
    assert run(tracker, [box(103, 100), box(400, 400)], [0.3, 0.3], 2 * DT)[1] is None
    assert run(tracker, [box(106, 100), box(400, 400)], [0.3, 0.3], 3 * DT)[1] is None


def test_a_class_duplicate_of_a_tracked_object_starts_no_track_and_ids_stay_unique():
    tracker = ByteTracker()
    run(tracker, [box(100, 100), box(300, 100)], [0.9, 0.8], 0.0)
    for k in range(1, 10):
        # Class-wise NMS kept a second box on object 1 (another class, slightly offset).
        ids = run(tracker, [box(100, 100), box(101, 101), box(300, 100)], [0.9, 0.7, 0.8],
                  k * DT)
        assert ids[0] == 1 and ids[1] is None and ids[2] == 2
    assert tracker.active_tracks == 2


def test_stamps_going_back_restart_the_tracks_with_new_ids():
    tracker = ByteTracker()
    run(tracker, [box(100, 100)], [0.9], 5.0)
    assert run(tracker, [box(100, 100)], [0.9], 5.0 + DT) == [1]
    assert run(tracker, [box(100, 100)], [0.9], 1.0) == [2]  # a replayed bag: never reuse 1


def test_tracker_config_ranges():
    with pytest.raises(ValueError, match='track_match_iou 0'):
        TrackerConfig(match_iou=0.0)
    with pytest.raises(ValueError, match='track_lost_time -1'):
        TrackerConfig(lost_time_s=-1.0)


def test_switching_tracking_off_and_on_restarts_tracks_without_reusing_ids():
    pipeline = SegmentationPipeline(create_backend('onnxruntime', str(SHAPES_ONNX)),
                                    'letterbox', ['a', 'b', 'c', 'd'])
    scene = generate_scene(np.random.default_rng(4), 640, 480, num_shapes=(3, 3))
    source = SourceImage(scene.image_bgr, 'bgr8')
    on = runtime_config(default_values())
    off = runtime_config({**default_values(), 'tracking': 'none'})
    first = {i for i in pipeline.run(source, on, False, 1.0).track_ids if i is not None}
    assert len(first) >= 2
    assert pipeline.run(source, off, False, 1.1).track_ids is None
    # A restart confirms at once (its first frame), under ids never used before.
    again = {i for i in pipeline.run(source, on, False, 1.2).track_ids if i is not None}
    assert len(again) == len(first) and not again & first
