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
The node's parts below rclpy: the per-frame step with a list sink, the worker, depth pairing.

Real ONNX Runtime inference on the trained shapes model, real ROS message types, no node.
"""

from __future__ import annotations

import threading
import time
import types

from builtin_interfaces.msg import Time
from helpers.depth_scenes import half_resolution, render_scene, to_millimetres
from helpers.models import SHAPES_ONNX
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.depth_pairing import DepthPairing, FRAME_LAG_S, StampedBuffer
from yolov8_seg_ros.frame_step import FrameContext, FrameStep, image_converter
from yolov8_seg_ros.names import (DETECTIONS_3D_TOPIC, DETECTIONS_TOPIC, MARKERS_TOPIC,
                                  MASK_TOPIC, OVERLAY_TOPIC)
from yolov8_seg_ros.parameters import default_values, runtime_config
from yolov8_seg_ros.pipeline import SegmentationPipeline, STAGES
from yolov8_seg_ros.runtime import PipelineStats
from yolov8_seg_ros.worker import FrameWorker

NAMES = ['square', 'circle', 'triangle', 'star']
DEPTH_FRAME = 'camera_depth_optical_frame'


class ListSink:
    """Records what the step publishes; listened() says which outputs have a subscriber."""

    def __init__(self, listened: tuple[str, ...] = ()) -> None:
        self.published: list[tuple[str, object]] = []
        self._listened = listened

    def publish(self, topic: str, msg: object) -> None:
        self.published.append((topic, msg))

    def listened(self, topic: str) -> bool:
        return topic in self._listened

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.published]


def header_at(seconds: float, frame_id: str = 'camera') -> Header:
    whole = int(seconds)
    return Header(stamp=Time(sec=whole, nanosec=int(round((seconds - whole) * 1e9))),
                  frame_id=frame_id)


def image_of(bgr: np.ndarray, header: Header) -> Image:
    height, width = bgr.shape[:2]
    return Image(header=header, height=height, width=width, encoding='bgr8', step=width * 3,
                 data=np.ascontiguousarray(bgr).tobytes())


def depth_of(depth_mm: np.ndarray, header: Header) -> Image:
    height, width = depth_mm.shape
    return Image(header=header, height=height, width=width, encoding='16UC1', step=width * 2,
                 data=np.ascontiguousarray(depth_mm).tobytes())


def info_of(camera, header: Header) -> CameraInfo:
    k = [camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0]
    return CameraInfo(header=header, width=camera.width, height=camera.height,
                      distortion_model='plumb_bob', d=[0.0] * 5, k=k,
                      p=[*k[:3], 0.0, *k[3:6], 0.0, *k[6:], 0.0])


@pytest.fixture(scope='module')
def pipeline():
    backend = create_backend('onnxruntime', str(SHAPES_ONNX))
    return SegmentationPipeline(backend, 'letterbox', NAMES)


@pytest.fixture(scope='module')
def scene():
    return render_scene(3)


def context_for(pipeline, sink, depth=None, **values):
    config = runtime_config({**default_values(), 'tracking': 'none', **values})
    return FrameContext(pipeline, config, image_converter('raw', 8192 * 8192), '/cam/image_raw',
                        8192 * 8192, sink, depth)


def test_a_good_frame_publishes_its_2d_outputs_with_the_input_header(pipeline, scene):
    stats, warnings = PipelineStats(STAGES), []
    sink = ListSink(listened=(OVERLAY_TOPIC,))
    step = FrameStep(stats, warnings.append, warnings.append)
    header = header_at(100.25)
    step(context_for(pipeline, sink), image_of(scene.image_bgr, header), time.perf_counter())
    assert sink.topics() == [DETECTIONS_TOPIC, MASK_TOPIC, OVERLAY_TOPIC]
    detections = sink.published[0][1]
    assert detections.header == header and len(detections.detections) >= 2
    assert sink.published[1][1].header == header and sink.published[1][1].width == 1280
    assert stats.snapshot().processed == 1 and not warnings


def test_no_overlay_without_a_subscriber_and_no_mask_when_off(pipeline, scene):
    stats = PipelineStats(STAGES)
    sink = ListSink()
    step = FrameStep(stats, print, print)
    step(context_for(pipeline, sink, mask_output='none'),
         image_of(scene.image_bgr, header_at(1.0)), 0.0)
    assert sink.topics() == [DETECTIONS_TOPIC]


def test_a_bad_frame_publishes_nothing_and_is_counted_bad_with_the_reason(pipeline):
    stats, warnings = PipelineStats(STAGES), []
    sink = ListSink()
    step = FrameStep(stats, warnings.append, warnings.append)
    truncated = Image(header=header_at(2.0), height=480, width=640, encoding='bgr8',
                      step=1920, data=bytes(1000))
    step(context_for(pipeline, sink), truncated, time.perf_counter())
    assert sink.published == []
    snapshot = stats.snapshot()
    assert (snapshot.bad, snapshot.processed, snapshot.failed) == (1, 0, 0)
    assert len(warnings) == 1 and warnings[0].startswith('skipping bad frame on /cam/image_raw')


def depth_step(pipeline):
    """Return a frame step with depth on 'depth', a markers subscriber, and its warnings."""
    warnings = []
    sink = ListSink(listened=(MARKERS_TOPIC,))
    pairing = DepthPairing('/cam/depth', '/cam/camera_info', 8192 * 8192)
    step = FrameStep(PipelineStats(STAGES), warnings.append, warnings.append)
    return warnings, sink, pairing, step, context_for(pipeline, sink, depth=pairing,
                                                      depth_topic='depth')


def test_missing_depth_publishes_2d_only_and_counts_the_frame_unmatched(pipeline, scene):
    warnings, sink, pairing, step, context = depth_step(pipeline)
    step(context, image_of(scene.image_bgr, header_at(3.0)), time.perf_counter())
    assert sink.topics() == [DETECTIONS_TOPIC, MASK_TOPIC]
    assert pairing.counts['frames_depth_unmatched'] == 1
    assert warnings == ['no depth image on /cam/depth within 0.02 s of frame 3.000 (newest: '
                        'none yet): no 3D output']


def test_paired_depth_publishes_3d_and_markers_cleared_once_when_depth_stops(pipeline, scene):
    _, sink, pairing, step, context = depth_step(pipeline)
    half, camera = half_resolution(scene.depth_m)
    depth_header = header_at(4.005, DEPTH_FRAME)
    assert pairing.add_depth(depth_of(to_millimetres(half), depth_header), 0.02) is None
    pairing.add_info(info_of(camera, depth_header), 0.02)
    step(context, image_of(scene.image_bgr, header_at(4.0)), time.perf_counter())
    assert sink.topics() == [DETECTIONS_TOPIC, MASK_TOPIC, DETECTIONS_3D_TOPIC, MARKERS_TOPIC]
    located = sink.published[2][1]
    assert located.header.frame_id == DEPTH_FRAME and located.header.stamp == Time(sec=4)
    assert located.detections and pairing.counts['frames_depth_paired'] == 1
    # The depth stream stops: the next frames get 2D, one DELETEALL, then nothing more of 3D.
    for seconds in (5.0, 6.0):
        step(context, image_of(scene.image_bgr, header_at(seconds)), time.perf_counter())
    markers = [msg for topic, msg in sink.published if topic == MARKERS_TOPIC]
    assert len(markers) == 2
    assert [m.action for m in markers[1].markers] == [Marker.DELETEALL]
    assert markers[1].markers[0].header.frame_id == DEPTH_FRAME
    assert pairing.counts['frames_depth_unmatched'] == 2


def test_a_refused_depth_image_is_kept_as_its_reason_only_and_counts_its_frame_bad(pipeline,
                                                                                   scene):
    stats, warnings = PipelineStats(STAGES), []
    sink = ListSink()
    pairing = DepthPairing('/cam/depth', '/cam/camera_info', 640 * 360)
    header = header_at(7.0, DEPTH_FRAME)
    oversized = depth_of(np.full((720, 1280), 2000, np.uint16), header)
    problem = pairing.add_depth(oversized, 0.02)
    assert problem == ('skipping depth on /cam/depth: 16UC1 depth image 1280x720: more than '
                       'max_image_pixels 230400')
    assert pairing.depth.nbytes == 0 and pairing.counts['depth_images_refused'] == 1
    step = FrameStep(stats, warnings.append, warnings.append)
    step(context_for(pipeline, sink, depth=pairing, depth_topic='depth'),
         image_of(scene.image_bgr, header_at(7.0)), time.perf_counter())
    assert pairing.counts['frames_depth_bad'] == 1 and DETECTIONS_TOPIC in sink.topics()
    assert warnings == []  # the arrival said it once


def stamped(seconds: float, size: int = 10) -> Image:
    return Image(header=header_at(seconds), data=bytes(size))


def test_stamped_buffer_is_bounded_by_time_and_bytes_and_prefers_the_newest():
    now = [0.0]
    buffer = StampedBuffer(max_bytes=100, clock=lambda: now[0])
    for k in range(20):  # one message every 0.1 s, stamped as it arrives
        now[0] = k * 0.1
        buffer.add(stamped(k * 0.1, size=10), keep_s=0.5)
    # Time: what arrived more than 0.5 s before the newest is gone.
    assert len(buffer) == 6 and buffer.nbytes == 60
    assert buffer.nearest(int(1.0e9), int(0.05e9)) is None
    assert buffer.nearest(int(1.42e9), int(0.05e9)).header.stamp == Time(sec=1,
                                                                         nanosec=400_000_000)
    # Equal distance: the later stamp; an equal stamp: the message that came last.
    assert buffer.nearest(int(1.45e9), int(0.05e9)).header.stamp.nanosec == 500_000_000
    newer = stamped(1.9, size=5)
    buffer.add(newer, keep_s=0.5)
    assert buffer.nearest(int(1.9e9), 0) is newer and buffer.nbytes == 55
    # A stamp from another clock (5 s ahead) does not flush the others: age is by arrival.
    buffer.add(stamped(6.9, size=1), keep_s=0.5)
    assert buffer.nearest(int(1.8e9), 0) is not None and len(buffer) == 7
    # Bytes: at most 100 held, the oldest arrivals go first, the newest always stays.
    buffer.add(stamped(2.0, size=90), keep_s=10.0)
    assert buffer.nbytes <= 100 and buffer.nearest(int(2.0e9), 0) is not None
    buffer.add(stamped(2.1, size=500), keep_s=10.0)
    assert len(buffer) == 1 and buffer.nbytes == 500
    buffer.clear()
    assert len(buffer) == 0 and buffer.nbytes == 0 and buffer.latest_stamp_s() is None


def test_pairing_takes_the_nearest_stamp_within_the_limit():
    buffer = StampedBuffer(max_bytes=1 << 20)
    assert buffer.nearest(0, 10) is None
    for seconds in (1.1, 1.0, 1.033):  # arrival order is not stamp order
        buffer.add(stamped(seconds), keep_s=10.0)
    assert buffer.nearest(1_030_000_000, 20_000_000).header.stamp.nanosec == 33_000_000
    assert buffer.nearest(1_066_000_000, 20_000_000) is None
    assert buffer.nearest(1_095_000_000, 20_000_000).header.stamp.nanosec == 100_000_000


def test_depth_pairing_keeps_the_pairing_window_plus_the_frame_lag():
    pairing = DepthPairing('/d', '/i', 100)
    now = [0.0]
    pairing.info = StampedBuffer(1 << 20, clock=lambda: now[0])
    for k in range(100):
        now[0] = k * 0.1
        pairing.add_info(CameraInfo(header=header_at(k * 0.1)), max_diff_s=0.02)
    assert len(pairing.info) == int((0.02 + FRAME_LAG_S) / 0.1) + 1
    pairing.clear()
    assert len(pairing.info) == 0


class _Context:
    """A named snapshot whose backend runs in the worker's thread (no submit)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pipeline = types.SimpleNamespace(backend=object())


def test_the_worker_survives_a_failing_frame_and_takes_one_snapshot_per_frame():
    stats = PipelineStats(STAGES)
    errors: list[str] = []
    seen: list[tuple[object, object]] = []
    gate = threading.Event()

    def step(context, msg, received_s):
        seen.append((context, msg))
        if msg == 'slow':
            gate.wait(5.0)
        if msg == 'boom':
            raise RuntimeError('publisher destroyed')
        stats.frame_processed({}, 0.0)

    contexts = iter([_Context('first'), _Context('second'), None, _Context('third')])
    current = {'value': None}

    def snapshot():
        current['value'] = next(contexts)
        return current['value']

    worker = FrameWorker(step, snapshot, stats, 5.0, lambda m, d='': errors.append(m))
    try:
        worker.put('slow')
        assert _wait(lambda: len(seen) == 1)
        worker.put('boom')  # waits in the slot while 'slow' runs with the first snapshot
        gate.set()
        assert _wait(lambda: len(seen) == 2)
        worker.put('dropped')  # the snapshot is None: unconfigured meanwhile
        assert _wait(lambda: stats.snapshot().dropped == 1)
        worker.put('last')
        assert _wait(lambda: len(seen) == 3)
        assert [(c.name, msg) for c, msg in seen] == [('first', 'slow'), ('second', 'boom'),
                                                      ('third', 'last')]
        assert errors == ['frame lost: RuntimeError: publisher destroyed']
        snapshot_now = stats.snapshot()
        assert (snapshot_now.processed, snapshot_now.failed, snapshot_now.dropped) == (2, 1, 1)
        assert snapshot_now.received == 4 and worker.problem() is None
    finally:
        worker.stop(1.0)


def _wait(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False
