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
Compare the tracker candidates on the tracking evaluation: IDF1, MOTA, ID switches, ms/frame.

Ours (yolov8_seg_ros.tracking) against supervision's ByteTrack and norfair on the moving-shapes
sequences of test/test_tracking_metrics.py (the shapes model's real detections), every frame
and every second frame. The candidates are not dependencies of this project (they do not fit
the board, see the README); install them somewhere else first, e.g.
    pip install --no-deps --target /tmp/cand supervision==0.26.1 norfair==2.3.0
    pip install --no-deps --target /tmp/cand filterpy==1.4.5 rich pydeprecate defusedxml
    pip install --no-deps --target /tmp/cand pygments markdown-it-py mdurl
    PYTHONPATH=/tmp/cand python dev/bench/compare_trackers.py
"""

from __future__ import annotations

from pathlib import Path
import statistics
import sys
import time
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'test'))
from helpers.models import SHAPES_ONNX  # noqa: E402, I100
from helpers.shapes_sequences import generate_sequence  # noqa: E402
from helpers.tracking_eval import detect, score_tracking  # noqa: E402
import numpy as np  # noqa: E402
from yolov8_seg_ros.pipeline import track_result  # noqa: E402
from yolov8_seg_ros.tracking import ByteTracker  # noqa: E402

FPS = 30.0


def ours() -> Callable:
    """Return this project's tracker as a per-frame function, fed as the node feeds it."""
    tracker = ByteTracker()
    return lambda result, stamp: track_result(tracker, result, stamp)


def supervision_bytetrack() -> Callable:
    """Return supervision's ByteTrack (defaults, 30 fps) as a per-frame function."""
    import supervision as sv
    tracker = sv.ByteTrack(frame_rate=int(FPS))

    def update(result, stamp) -> list[Optional[int]]:
        detections = sv.Detections(xyxy=result.boxes_xyxy.astype(np.float32),
                                   confidence=result.scores.astype(np.float32),
                                   class_id=result.class_ids.astype(int))
        tracked = tracker.update_with_detections(detections)
        ids: list[Optional[int]] = [None] * len(result)
        for box, track_id in zip(tracked.xyxy, tracked.tracker_id):
            match = np.flatnonzero(np.all(np.isclose(result.boxes_xyxy, box, atol=1e-3), axis=1))
            if match.size:
                ids[int(match[0])] = int(track_id)
        return ids
    return update


def norfair_iou() -> Callable:
    """Return norfair with IoU distance, periods from the stamps, as a per-frame function."""
    import norfair
    tracker = norfair.Tracker(distance_function='iou', distance_threshold=0.8)
    last = [None]

    def update(result, stamp) -> list[Optional[int]]:
        period = 1 if last[0] is None else max(1, round((stamp - last[0]) * FPS))
        last[0] = stamp
        detections = [norfair.Detection(points=box.reshape(2, 2).astype(np.float64),
                                        scores=np.array([score, score]))
                      for box, score in zip(result.boxes_xyxy, result.scores)]
        objects = tracker.update(detections=detections, period=period)
        ids: list[Optional[int]] = [None] * len(result)
        for obj in objects:
            for index, detection in enumerate(detections):
                if obj.last_detection is detection and obj.id is not None:
                    ids[index] = int(obj.id)
        return ids
    return update


def main() -> None:
    """Print the comparison table."""
    sequences = []
    for seed in range(100, 106):
        frames = generate_sequence(seed, num_frames=90, fps=FPS)
        sequences.append((frames, detect(str(SHAPES_ONNX), frames)))
    candidates = {'ours (ByteTrack, stamps)': ours,
                  'supervision 0.26.1 ByteTrack': supervision_bytetrack,
                  'norfair 2.3.0 (IoU)': norfair_iou}
    print(f'{"tracker":<30} {"IDF1":>6} {"MOTA":>6} {"sw/100":>7} | every 2nd frame: '
          f'{"IDF1":>6} {"MOTA":>6} {"sw/100":>7} | ms/frame')
    for name, make in candidates.items():
        try:
            full = score_tracking(sequences, make)
        except ImportError as error:
            print(f'{name:<30} not installed ({error})')
            continue
        dropped = score_tracking([(f[::2], r[::2]) for f, r in sequences], make)
        times = []
        for frames, results in sequences:
            update = make()
            for frame, result in zip(frames, results):
                started = time.perf_counter()
                update(result, frame.stamp_s)
                times.append((time.perf_counter() - started) * 1000.0)
        print(f'{name:<30} {full.idf1:6.3f} {full.mota:6.3f} {full.switches_per_100:7.2f} | '
              f'{"":>16} {dropped.idf1:6.3f} {dropped.mota:6.3f} '
              f'{dropped.switches_per_100:7.2f} | {statistics.median(times):.3f}')


if __name__ == '__main__':
    main()
