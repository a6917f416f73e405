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
from yolov8_seg_ros.tracking import (box_iou_matrix, ByteTracker, load_assignment_solver,
                                     match_by_iou, TrackerConfig, TrackerUnavailableError)

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


def test_new_score_below_high_score_and_low_score_above_it_are_refused_with_the_reason():
    # New tracks start only from high-score detections: a lower track_new_score would do nothing.
    with pytest.raises(ValueError, match=r'track_new_score 0\.3 is below track_high_score 0\.35'):
        TrackerConfig(new_score=0.3)
    with pytest.raises(ValueError, match=r'track_low_score 0\.5 is above track_high_score 0\.35'):
        TrackerConfig(low_score=0.5)
    with pytest.raises(ValueError, match=r'track_new_score 0\.3 is below'):
        runtime_config({**default_values(), 'track_new_score': 0.3})
    TrackerConfig(new_score=0.35, high_score=0.35, low_score=0.35)  # equal is fine


# Tracks A and B, detections d0 and d1, with IoU [[0.296, 0], [0.433, 0.154]] and gate 0.2.
GATE_TRACKS = [[0, 0, 100, 100], [70, 0, 170, 100]]
GATE_DETECTIONS = [[66, 0, 115, 100], [139, 0, 271, 100]]


def test_the_iou_gate_is_part_of_the_assignment():
    iou = box_iou_matrix(np.array(GATE_TRACKS, float), np.array(GATE_DETECTIONS, float))
    np.testing.assert_allclose(iou, [[0.296, 0.0], [0.433, 0.154]], atol=1e-3)
    # Most total IoU (0.296 + 0.154) would give d0 to A and leave B with d1, below the gate.
    # Gated (lapjv's cost_limit in ByteTrack, supervision): d0 goes to B, A stays unmatched.
    rows, cols = match_by_iou(iou, 0.2, load_assignment_solver())
    assert (rows.tolist(), cols.tolist()) == ([1], [0])
    tracker = ByteTracker()
    assert run(tracker, GATE_TRACKS, [0.9, 0.9], 0.0) == [1, 2]
    assert run(tracker, GATE_DETECTIONS, [0.9, 0.9], DT) == [2, None]


def shapes_pipeline_and_scene():
    """Return a fresh pipeline of the shapes model, and a scene of three shapes for it."""
    pipeline = SegmentationPipeline(create_backend('onnxruntime', str(SHAPES_ONNX)),
                                    'letterbox', ['a', 'b', 'c', 'd'])
    scene = generate_scene(np.random.default_rng(4), 640, 480, num_shapes=(3, 3))
    return pipeline, SourceImage(scene.image_bgr, 'bgr8')


def test_an_unstamped_frame_is_tracked_on_its_receive_time_without_restarting():
    # Stamps t, t+0.033, 0 (unset), t+0.1, t+0.133 received 33 ms apart: one object, one id.
    pipeline, source = shapes_pipeline_and_scene()
    config = runtime_config(default_values())
    t, received = 1_700_000_000.0, 50.0
    ids = [pipeline.run(source, config, False, stamp, received + k * 0.033).track_ids
           for k, stamp in enumerate([t, t + 0.033, None, t + 0.1, t + 0.133])]
    assert len({i for i in ids[0] if i is not None}) >= 2
    assert all(frame == ids[0] for frame in ids), ids


def test_a_missing_solver_is_one_clear_error(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def without_scipy(name, *args, **kwargs):
        if name.startswith('scipy'):
            raise ImportError(f'No module named {name!r} (hidden by the test)')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', without_scipy)
    with pytest.raises(TrackerUnavailableError, match='tracking bytetrack needs SciPy'):
        load_assignment_solver()
    tracker = ByteTracker()  # made without SciPy; it is needed for the first association only
    assert run(tracker, [box(100, 100)], [0.9], 0.0) == [1]
    with pytest.raises(TrackerUnavailableError):
        run(tracker, [box(100, 100)], [0.9], DT)


def test_switching_tracking_off_and_on_restarts_tracks_without_reusing_ids():
    pipeline, source = shapes_pipeline_and_scene()
    on = runtime_config(default_values())
    off = runtime_config({**default_values(), 'tracking': 'none'})
    tracked = pipeline.run(source, on, False, 1.0)
    first = {i for i in tracked.track_ids if i is not None}
    assert len(first) >= 2 and tracked.active_tracks == pipeline.tracker.active_tracks >= 2
    untracked = pipeline.run(source, off, False, 1.1)
    assert untracked.track_ids is None and untracked.active_tracks == 0
    # A restart confirms at once (its first frame), under ids never used before.
    again = {i for i in pipeline.run(source, on, False, 1.2).track_ids if i is not None}
    assert len(again) == len(first) and not again & first
