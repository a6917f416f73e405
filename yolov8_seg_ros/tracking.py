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
Multi-object tracking by detection: ByteTrack with a time-based Kalman motion model.

The algorithm is BYTE (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every
Detection Box", ECCV 2022, Algorithm 1): tracks are predicted with a constant-velocity Kalman
filter on (cx, cy, aspect, height); high-score detections are matched to every track by IoU,
then the low-score ones to the tracks still unmatched (BYTE's second association), then
unconfirmed tracks to what is left; a track is confirmed on its second match, lost tracks live
for lost_time_s, and new tracks start from unmatched high-score detections at or above
new_score. Each association is an assignment that maximises total IoU among pairs above the
gate (pairs below it cannot take part, as lapjv's cost_limit in ByteTrack). The tracker is
meant to be fed every detection down to low_score, below the published conf_threshold
(decode.py's low set), so that the second association has low scores to work with. Unlike the paper
the motion model and the lost time use the frames' timestamps, not a frame counter, so frames
dropped by the node's latest-frame policy only lengthen the prediction step; association
ignores the class (a detector's label may flicker between frames), and an unmatched detection
that overlaps a matched one (the same object under another class, kept by class-wise NMS)
starts no track. Frames without a header stamp are placed on the stamp clock by their receive
time (StampClock). No rclpy. The maintained trackers on PyPI do not fit the board (see the
README), so this is the paper's algorithm written here, with SciPy's assignment solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


TRACKERS = ('none', 'bytetrack')  # 'none', not 'off': YAML reads an unquoted off as false
TRACKING_RANGES = {'track_match_iou': (0.01, 1.0), 'track_lost_time': (0.0, 60.0),
                   'track_new_score': (0.0, 1.0), 'track_high_score': (0.0, 1.0),
                   'track_low_score': (0.01, 1.0)}
# ByteTrack's noise model is per frame at the MOT17 frame rate; time steps are scaled to it.
_NOMINAL_DT_S = 1.0 / 30.0
_STD_POSITION = 1.0 / 20.0
_STD_VELOCITY = 1.0 / 160.0
_SECOND_MATCH_IOU = 0.5  # low-score detections to the remaining tracks (BYTE)
_UNCONFIRMED_MATCH_IOU = 0.3  # unconfirmed tracks to the remaining high-score detections
_DUPLICATE_IOU = 0.7  # an unmatched detection this close to a matched one starts no track


@dataclass(frozen=True)
class TrackerConfig:
    """Thresholds of the tracker, all changeable between frames."""

    match_iou: float = 0.2  # least IoU of a first-association match
    lost_time_s: float = 1.0  # how long an unmatched track is kept (and can be re-found)
    new_score: float = 0.4  # least score of a detection that starts a track
    high_score: float = 0.35  # detections below it only extend tracks (BYTE's low set)
    low_score: float = 0.1  # least score of a detection the tracker sees at all

    def __post_init__(self) -> None:
        for name, value in (('track_match_iou', self.match_iou),
                            ('track_lost_time', self.lost_time_s),
                            ('track_new_score', self.new_score),
                            ('track_high_score', self.high_score),
                            ('track_low_score', self.low_score)):
            low, high = TRACKING_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f'{name} {value}: expected {low}..{high}')
        if self.new_score < self.high_score:
            raise ValueError(f'track_new_score {self.new_score} is below track_high_score '
                             f'{self.high_score}: new tracks start only from high-score '
                             'detections, so it must be >= track_high_score')
        if self.low_score > self.high_score:
            raise ValueError(f'track_low_score {self.low_score} is above track_high_score '
                             f'{self.high_score}: it must be <= track_high_score')


class TrackerUnavailableError(RuntimeError):
    """The assignment solver (SciPy) cannot be loaded; the message says what to install."""


def load_assignment_solver() -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return SciPy's linear_sum_assignment; raises TrackerUnavailableError without SciPy."""
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as error:
        raise TrackerUnavailableError(
            f'tracking bytetrack needs SciPy (its assignment solver): {error}; install '
            'python3-scipy (apt) or scipy (pip), or set tracking to none') from error
    return linear_sum_assignment


def match_by_iou(iou: np.ndarray, min_iou: float,
                 solve: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """
    Return (rows, cols) of the pairs with IoU >= min_iou that maximise the sum of (IoU - min_iou).

    Leaving both sides unmatched costs as much as a pair at the gate, so a pair below it never
    takes a detection from one above it (lapjv's cost_limit, as ByteTrack solves it).
    """
    cost = 1.0 - iou
    limit = 1.0 - min_iou
    cost[cost > limit] = limit + 1e-6
    rows, cols = solve(cost)
    keep = iou[rows, cols] >= min_iou
    return rows[keep], cols[keep]


class StampClock:
    """
    The tracker's time: header stamps, and for an unstamped frame a stamp made from receive time.

    An unstamped frame (stamp 0) gets the last stamp plus the receive time since that frame, so
    that it neither looks like time going back (a restart) nor makes the next frame a jump.
    """

    def __init__(self) -> None:
        self._last: Optional[tuple[float, float]] = None  # (stamp_s, received_s)

    def __call__(self, stamp_s: Optional[float], received_s: float) -> float:
        """Return the tracker time of a frame; stamp_s None means the header had no stamp."""
        if stamp_s is None:
            stamp_s = received_s if self._last is None else \
                self._last[0] + (received_s - self._last[1])
        self._last = (stamp_s, received_s)
        return stamp_s


@dataclass
class _Track:
    track_id: int
    mean: np.ndarray  # (8,) cx, cy, aspect, height and their velocities per nominal frame
    covariance: np.ndarray  # (8, 8)
    last_seen_s: float
    confirmed: bool
    lost: bool = False
    box: np.ndarray = field(default_factory=lambda: np.zeros(4))


class ByteTracker:
    """Assigns persistent ids to each frame's detections; call update() once per frame in order."""

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        # SciPy is loaded on the first association, not with the module or the tracker: the
        # node loads it at startup only when tracking is on (load_assignment_solver).
        self._assign: Optional[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = None
        self.config = config
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_stamp_s: Optional[float] = None

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so none is ever reused)."""
        self._tracks = []
        self._last_stamp_s = None

    @property
    def active_tracks(self) -> int:
        """Tracks currently matched or lost but still kept."""
        return len(self._tracks)

    def update(self, boxes_xyxy: np.ndarray, scores: np.ndarray,
               stamp_s: float) -> list[Optional[int]]:
        """
        Associate one frame's detections; return each detection's track id or None.

        None means the detection belongs to no confirmed track yet (a new track is confirmed on
        its second match, or at once on the tracker's first frame). A stamp earlier than the
        previous one (a replayed bag, a clock jump) restarts the tracker. Raises
        TrackerUnavailableError without SciPy.
        """
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        first_frame = self._last_stamp_s is None
        if not first_frame and stamp_s < self._last_stamp_s:
            self.reset()
            first_frame = True
        steps = 0.0 if first_frame else (stamp_s - self._last_stamp_s) / _NOMINAL_DT_S
        self._last_stamp_s = stamp_s
        self._tracks = [t for t in self._tracks
                        if stamp_s - t.last_seen_s <= self.config.lost_time_s]
        self._predict(steps)
        ids: list[Optional[int]] = [None] * len(boxes)
        config = self.config
        high = np.flatnonzero(scores >= config.high_score)
        low = np.flatnonzero(scores < config.high_score)
        confirmed = [t for t in self._tracks if t.confirmed]
        unconfirmed = [t for t in self._tracks if not t.confirmed]
        # 1. High-score detections against every confirmed track, lost ones included.
        matches, free_tracks, free_high = self._associate(confirmed, boxes, high,
                                                          config.match_iou)
        for track, det in matches:
            self._update_track(track, boxes[det], stamp_s)
            ids[det] = track.track_id
        # 2. BYTE: low-score detections against the tracks that were tracked until now.
        recent = [t for t in free_tracks if not t.lost]
        matches, still_free, _ = self._associate(recent, boxes, low, _SECOND_MATCH_IOU)
        for track, det in matches:
            self._update_track(track, boxes[det], stamp_s)
            ids[det] = track.track_id
        for track in still_free:
            track.lost = True
        # 3. Unconfirmed tracks against the high-score detections left; a match confirms.
        matches, dropped, free_high = self._associate(unconfirmed, boxes, free_high,
                                                      _UNCONFIRMED_MATCH_IOU)
        for track, det in matches:
            self._update_track(track, boxes[det], stamp_s)
            track.confirmed = True
            ids[det] = track.track_id
        removed = {id(t) for t in dropped}
        # 4. New tracks, except from duplicates of a matched detection (class-wise NMS keeps
        # one box per class an object looks like). Tracks lost for longer than lost_time_s
        # were dropped before the association.
        kept = [t for t in self._tracks if id(t) not in removed]
        matched = np.array([i for i, track_id in enumerate(ids) if track_id is not None])
        duplicate = np.zeros(len(boxes), bool)
        if matched.size and free_high.size:
            overlap = box_iou_matrix(boxes[free_high], boxes[matched]).max(axis=1)
            duplicate[free_high] = overlap >= _DUPLICATE_IOU
        for det in free_high:
            if scores[det] < config.new_score or duplicate[det]:
                continue
            track = self._new_track(boxes[det], stamp_s, first_frame)
            kept.append(track)
            if track.confirmed:
                ids[det] = track.track_id
        self._tracks = kept
        return ids

    def _associate(self, tracks: list[_Track], boxes: np.ndarray, detections: np.ndarray,
                   min_iou: float) -> tuple[list[tuple[_Track, int]], list[_Track], np.ndarray]:
        """Match tracks to detections (indices into boxes) by IoU, at least min_iou."""
        if not tracks or detections.size == 0:
            return [], list(tracks), detections
        if self._assign is None:
            self._assign = load_assignment_solver()
        iou = box_iou_matrix(np.stack([t.box for t in tracks]), boxes[detections])
        rows, cols = match_by_iou(iou, min_iou, self._assign)
        matched_tracks = set(rows.tolist())
        matched_dets = set(cols.tolist())
        matches = [(tracks[r], int(detections[c])) for r, c in zip(rows, cols)]
        free_tracks = [t for i, t in enumerate(tracks) if i not in matched_tracks]
        free_dets = np.array([d for i, d in enumerate(detections) if i not in matched_dets],
                             dtype=np.int64)
        return matches, free_tracks, free_dets

    def _new_track(self, box: np.ndarray, stamp_s: float, confirmed: bool) -> _Track:
        measurement = _xyah(box)
        mean = np.concatenate([measurement, np.zeros(4)])
        h = measurement[3]
        std = np.array([2 * _STD_POSITION * h, 2 * _STD_POSITION * h, 1e-2,
                        2 * _STD_POSITION * h, 10 * _STD_VELOCITY * h,
                        10 * _STD_VELOCITY * h, 1e-5, 10 * _STD_VELOCITY * h])
        track = _Track(self._next_id, mean, np.diag(std ** 2), stamp_s, confirmed,
                       box=box.copy())
        self._next_id += 1
        return track

    def _predict(self, steps: float) -> None:
        """Move every track `steps` nominal frames ahead (batched Kalman predict)."""
        if not self._tracks or steps <= 0.0:
            return
        for track in self._tracks:
            if track.lost:
                track.mean[7] = 0.0  # a lost track keeps its height (ByteTrack)
        means = np.stack([t.mean for t in self._tracks])
        covariances = np.stack([t.covariance for t in self._tracks])
        motion = np.eye(8)
        motion[:4, 4:] = steps * np.eye(4)
        h = means[:, 3]
        std = np.stack([_STD_POSITION * h, _STD_POSITION * h, np.full_like(h, 1e-2),
                        _STD_POSITION * h, _STD_VELOCITY * h, _STD_VELOCITY * h,
                        np.full_like(h, 1e-5), _STD_VELOCITY * h], axis=1)
        noise = np.einsum('ni,ij->nij', steps * std ** 2, np.eye(8))
        means = means @ motion.T
        covariances = motion @ covariances @ motion.T + noise
        for track, mean, covariance in zip(self._tracks, means, covariances):
            track.mean, track.covariance = mean, covariance
            track.box = _xyxy(mean[:4])

    def _update_track(self, track: _Track, box: np.ndarray, stamp_s: float) -> None:
        measurement = _xyah(box)
        h = track.mean[3]
        noise = np.diag(np.array([_STD_POSITION * h, _STD_POSITION * h, 1e-1,
                                  _STD_POSITION * h]) ** 2)
        projected_cov = track.covariance[:4, :4] + noise
        gain = np.linalg.solve(projected_cov, track.covariance[:4, :]).T
        track.mean = track.mean + gain @ (measurement - track.mean[:4])
        track.covariance = track.covariance - gain @ projected_cov @ gain.T
        track.box = box.copy()
        track.last_seen_s = stamp_s
        track.lost = False


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the IoU of every box in a (N, 4 xyxy) with every box in b (M, 4): (N, M)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _xyah(box: np.ndarray) -> np.ndarray:
    width, height = max(box[2] - box[0], 1e-6), max(box[3] - box[1], 1e-6)
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, width / height, height])


def _xyxy(xyah: np.ndarray) -> np.ndarray:
    height = max(xyah[3], 1e-6)
    width = xyah[2] * height
    return np.array([xyah[0] - width / 2, xyah[1] - height / 2, xyah[0] + width / 2,
                     xyah[1] + height / 2])
