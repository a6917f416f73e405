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
One frame from its message to its published messages, with no rclpy.

The node hands each frame and a snapshot of what configure built (FrameContext) to a FrameStep;
the step converts, runs the pipeline, builds the messages and gives them to a FrameSink (the
node's publishers, or a list in a test), and counts the frame as processed, bad or failed.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any, Callable, NamedTuple, Optional, Protocol, Sequence

from std_msgs.msg import Header

from yolov8_seg_ros.backends import BackendError
from yolov8_seg_ros.depth import (depth_input_notes, DepthInputError, locate_frame_explained,
                                  missing_summary)
from yolov8_seg_ros.depth_pairing import DepthPairing, Paired
from yolov8_seg_ros.image_conversion import (format_mismatch, from_compressed, from_hbm,
                                             from_image, SourceImage)
from yolov8_seg_ros.messages import (delete_all_markers_msg, detections_3d_msg, detections_msg,
                                     image_msg, label_image_msg, markers_msg, points_msg,
                                     stamp_seconds)
from yolov8_seg_ros.names import (DETECTIONS_3D_TOPIC, DETECTIONS_TOPIC, MARKERS_TOPIC,
                                  MASK_TOPIC, OVERLAY_TOPIC, POINTS_TOPIC)
from yolov8_seg_ros.parameters import RuntimeConfig
from yolov8_seg_ros.pipeline import FrameOutputs, Prepared, SegmentationPipeline
from yolov8_seg_ros.preprocess import ImageFormatError
from yolov8_seg_ros.runtime import PipelineStats
from yolov8_seg_ros.smoothing import Track3DSmoother

# A converter: message -> (image, header, a warning about the message or None).
Converter = Callable[[Any], tuple[SourceImage, Any, Optional[str]]]


class FrameSink(Protocol):
    """Where a frame's messages go: publish(topic, msg) and whether a topic has a listener."""

    def publish(self, topic: str, msg: Any) -> None:
        """Publish msg on one of the node's output topics (names.py)."""

    def listened(self, topic: str) -> bool:
        """Return True when someone subscribes to that output."""


def image_converter(transport: str, max_pixels: int, hbmem_frame_id: str = '') -> Converter:
    """Return the converter for input_transport raw, compressed or hbmem."""
    if transport == 'raw':
        return lambda msg: (from_image(msg, max_pixels), msg.header, None)
    if transport == 'compressed':
        return lambda msg: (from_compressed(msg, max_pixels), msg.header, format_mismatch(msg))
    return lambda msg: (from_hbm(msg, max_pixels),
                        Header(stamp=msg.time_stamp, frame_id=hbmem_frame_id), None)


@dataclass(frozen=True)
class FrameContext:
    """What configure built, as one snapshot a frame is processed with from start to end."""

    pipeline: SegmentationPipeline
    config: RuntimeConfig
    convert: Converter
    input_topic: str  # resolved, for the log
    max_pixels: int
    sink: FrameSink
    depth: Optional[DepthPairing] = None


class InFlight(NamedTuple):
    """A frame between its preprocessing and its decode (the backend's turn)."""

    context: FrameContext
    header: Any
    prepared: Prepared
    stamp_s: Optional[float]
    received_s: float
    convert_s: float


class FrameStep:
    """Process frames: convert, run, publish 2D, then pair with depth and publish 3D."""

    def __init__(self, stats: PipelineStats, warn: Callable[[str], None],
                 error: Callable[[str], None]) -> None:
        self._stats = stats
        self._warn = warn  # a throttled logger per kind of message
        self._error = error
        self.active_tracks = 0  # after the last processed frame
        self.markers_shown = False  # markers were published and not deleted since
        self._markers_frame_id = ''
        self._smoother: Optional[Track3DSmoother] = None
        self._smoother_key: Optional[tuple[float, str]] = None

    def __call__(self, context: FrameContext, msg: Any, received_s: float) -> None:
        """Process one frame with the backend in this thread; every outcome is counted."""
        frame = self.begin(context, msg, received_s)
        if frame is None:
            return
        started = time.perf_counter()
        try:
            outputs = context.pipeline.backend.infer(frame.prepared.tensor)
        except BackendError as error:
            self.inference_failed(error)
            return
        self.end(frame, outputs, time.perf_counter() - started)

    def begin(self, context: FrameContext, msg: Any, received_s: float) -> Optional[InFlight]:
        """Convert and preprocess a frame for its inference; None when it was bad (counted)."""
        started = time.perf_counter()
        try:
            image, header, note = context.convert(msg)
            if note:
                self._warn(note)
            converted = time.perf_counter()
            stamp_s = stamp_seconds(header)
            if stamp_s is None and context.config.tracking != 'none':
                self._warn(f'frames on {context.input_topic} have no header stamp: tracked on '
                           'their receive time (set header.stamp)')
            prepared = context.pipeline.prepare(image)
        except ImageFormatError as error:
            self._stats.frame_bad()
            self._warn(f'skipping bad frame on {context.input_topic}: {error}')
            return None
        return InFlight(context, header, prepared, stamp_s, received_s, converted - started)

    def inference_failed(self, error: Exception) -> None:
        """Count a frame whose inference failed, with one throttled error."""
        self._stats.frame_failed()
        self._error(f'inference failed: {error}')

    def end(self, frame: InFlight, outputs: Any, inference_s: float) -> None:
        """Decode a frame from its raw outputs and publish it: 2D first, then 3D."""
        context = frame.context
        config, sink = context.config, context.sink
        want_overlay = config.publish_overlay and sink.listened(OVERLAY_TOPIC)
        results = context.pipeline.finish(frame.prepared, outputs, inference_s, config,
                                          want_overlay, frame.stamp_s, frame.received_s)
        self.active_tracks = results.active_tracks
        publish_started = time.perf_counter()
        self._publish_2d(context, results, frame.header)
        published = time.perf_counter()
        stage_s = {'convert': frame.convert_s, **results.stage_s,
                   'publish': published - publish_started}
        if context.depth is not None:
            self._publish_3d(context, results, frame.header)
            stage_s['depth3d'] = time.perf_counter() - published
        self._stats.frame_processed(stage_s, time.perf_counter() - frame.received_s,
                                    with_overlay=results.overlay_bgr is not None)

    def _publish_2d(self, context: FrameContext, outputs: FrameOutputs, header: Any) -> None:
        names, config, sink = context.pipeline.class_names, context.config, context.sink
        sink.publish(DETECTIONS_TOPIC, detections_msg(outputs.result, header, names,
                                                      config.class_id_format, outputs.track_ids))
        if outputs.labels is not None:
            sink.publish(MASK_TOPIC, label_image_msg(outputs.labels, header))
        if outputs.overlay_bgr is not None:
            sink.publish(OVERLAY_TOPIC, image_msg(outputs.overlay_bgr, header, 'bgr8'))

    def _publish_3d(self, context: FrameContext, outputs: FrameOutputs, header: Any) -> None:
        """Pair the frame with depth and camera info by stamp, and publish its 3D outputs."""
        pairing, config, sink = context.depth, context.config, context.sink
        paired = pairing.pair(header, config.depth_max_stamp_diff_s)
        if not isinstance(paired, Paired):
            if paired.counted == 'unmatched':  # a refused depth image was logged on arrival
                self._warn(paired.reason)
            self.clear_markers(sink, header)
            return
        try:
            objects, missing = locate_frame_explained(outputs.result, paired.depth, paired.info,
                                                      context.max_pixels, config.depth)
        except DepthInputError as error:
            pairing.counts['frames_depth_bad'] += 1
            self._warn(f'skipping depth on {pairing.depth_topic}: {error}')
            self.clear_markers(sink, header)
            return
        for note in depth_input_notes(paired.depth, paired.info):
            self._warn(f'depth on {pairing.depth_topic}: {note}')
        counts = pairing.counts
        counts['frames_depth_paired'] += 1
        counts['objects_3d'] += len(objects)
        counts['objects_without_3d'] += len(outputs.result) - len(objects)
        if missing:
            self._warn(f'depth on {pairing.depth_topic}: {missing_summary(missing)}')
        objects = self._smoothed(objects, outputs, header, config)
        self._send_3d(sink, objects, outputs, Header(stamp=header.stamp,
                                                     frame_id=paired.depth.header.frame_id),
                      context.pipeline.class_names, config)

    def _smoothed(self, objects: list, outputs: FrameOutputs, header: Any,
                  config: RuntimeConfig) -> list:
        """Smooth confirmed tracks' boxes over time (a new smoother when its settings change)."""
        stamp_s = stamp_seconds(header)
        key = (config.depth.smoothing_s, config.tracking)
        if self._smoother_key != key:
            self._smoother, self._smoother_key = Track3DSmoother(key[0]), key
        if stamp_s is None or outputs.track_ids is None:
            return objects
        return self._smoother.update(stamp_s, outputs.track_ids, objects)

    def reset_3d(self) -> None:
        """Forget the smoothed tracks (deactivate: the next frames start afresh)."""
        self._smoother_key = None

    def _send_3d(self, sink: FrameSink, objects: Sequence[Any], outputs: FrameOutputs,
                 header: Any, names: Sequence[str], config: RuntimeConfig) -> None:
        sink.publish(DETECTIONS_3D_TOPIC, detections_3d_msg(
            objects, outputs.result, header, names, config.class_id_format, outputs.track_ids))
        if sink.listened(MARKERS_TOPIC):
            sink.publish(MARKERS_TOPIC, markers_msg(objects, outputs.result, header, names,
                                                    outputs.track_ids))
            self.markers_shown, self._markers_frame_id = True, header.frame_id
        if sink.listened(POINTS_TOPIC):
            sink.publish(POINTS_TOPIC, points_msg(objects, header, outputs.track_ids))

    def clear_markers(self, sink: FrameSink, header: Any) -> None:
        """Delete the markers shown in rviz, once, when 3D output stops for any reason."""
        if self.markers_shown and sink.listened(MARKERS_TOPIC):
            sink.publish(MARKERS_TOPIC, delete_all_markers_msg(
                Header(stamp=header.stamp, frame_id=self._markers_frame_id)))
        self.markers_shown = False
