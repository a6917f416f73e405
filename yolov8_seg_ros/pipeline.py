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
One frame through the model: preprocess, inference, decode, label image and overlay.

No rclpy. The node owns one SegmentationPipeline and calls run() from its worker thread.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
import time
from typing import Any, Callable, Mapping, NamedTuple, Optional

import numpy as np

from yolov8_seg_ros.backends import Backend, BackendError
from yolov8_seg_ros.decode import SegmentationResult, SegPostprocessor
from yolov8_seg_ros.image_conversion import SourceImage
from yolov8_seg_ros.model_metadata import model_metadata, ModelMetadataError
from yolov8_seg_ros.names import PACKAGE_NAME
from yolov8_seg_ros.overlay import draw_overlay
from yolov8_seg_ros.parameters import (check_class_count, load_class_names, RuntimeConfig,
                                       StartupError, validate)
from yolov8_seg_ros.preprocess import Preprocessor, to_bgr
from yolov8_seg_ros.render import render_class_labels, render_instance_labels
from yolov8_seg_ros.tracking import ByteTracker, StampClock

# Per-frame stages timed in /diagnostics: decode is boxes and masks, track the tracker update,
# render the label image, overlay the BGR conversion and drawing (only while someone
# subscribes), publish the messages, depth3d the 3D step and its messages (with a depth input).
STAGES = ('convert', 'preprocess', 'inference', 'decode', 'track', 'render', 'overlay',
          'publish', 'depth3d')


@dataclass(frozen=True)
class FrameOutputs:
    """Everything published for one frame; labels/overlay are None when not requested."""

    result: SegmentationResult
    track_ids: Optional[tuple[Optional[int], ...]]  # per detection; None: tracking none
    labels: Optional[np.ndarray]  # (H, W) uint8/uint16 label image at the source size
    overlay_bgr: Optional[np.ndarray]  # (H, W, 3) uint8
    stage_s: dict[str, float]  # seconds per stage: preprocess .. overlay (see STAGES)
    active_tracks: int  # tracks kept after this frame (0 with tracking none)


class Prepared(NamedTuple):
    """A preprocessed frame waiting for its inference: the source stays for the overlay."""

    source: SourceImage
    frame: Any  # preprocess.PreprocessedFrame: tensor and letterbox transform
    preprocess_s: float

    @property
    def tensor(self) -> np.ndarray:
        """Return the model input tensor."""
        return self.frame.tensor


class SegmentationPipeline:
    """A loaded backend with its preprocessor and postprocessor (for the backend's layout)."""

    def __init__(self, backend: Backend, resize_mode: str, class_names: list[str]) -> None:
        self.backend = backend
        self.class_names = class_names
        self.preprocessor = Preprocessor(backend.input_wh, backend.input_format, resize_mode)
        try:  # which head branch (NMS or top-k) from the metadata file beside the model
            self.metadata = model_metadata(backend.model_path, backend.layout)
        except ModelMetadataError as error:
            raise BackendError(str(error)) from error
        self.postprocessor = SegPostprocessor(
            backend.layout, end2end=self.metadata is not None and self.metadata.end2end)
        self.num_classes = backend.layout.num_classes
        # Its config follows the parameters frame by frame; it loads SciPy on first use.
        self.tracker = ByteTracker()
        self.clock = StampClock()

    def run(self, source: SourceImage, config: RuntimeConfig, want_overlay: bool,
            stamp_s: Optional[float] = None, received_s: float = 0.0) -> FrameOutputs:
        """
        Process one source image; raises ImageFormatError, BackendError, TrackerUnavailableError.

        stamp_s is the header stamp in seconds (None: the frame has none) and received_s the
        receive time (any monotonic clock): the tracker's time (tracking.StampClock). Frames
        must come in stamp order while tracking is on: the tracker keeps its tracks between
        calls, and restarts when tracking is switched or the stamps go back.
        """
        prepared = self.prepare(source)
        started = time.perf_counter()
        outputs = self.backend.infer(prepared.tensor)
        return self.finish(prepared, outputs, time.perf_counter() - started, config,
                           want_overlay, stamp_s, received_s)

    def close(self) -> None:
        """Release the backend (an inference process is stopped; others are left to GC)."""
        close = getattr(self.backend, 'close', None)
        if close is not None:
            close()

    def prepare(self, source: SourceImage) -> Prepared:
        """Preprocess one source image for the backend (run's first step; ImageFormatError)."""
        started = time.perf_counter()
        frame = self.preprocessor(source.array, source.encoding)
        return Prepared(source, frame, time.perf_counter() - started)

    def finish(self, prepared: Prepared, outputs: Any, inference_s: float,
               config: RuntimeConfig, want_overlay: bool, stamp_s: Optional[float] = None,
               received_s: float = 0.0) -> FrameOutputs:
        """Decode, track, render and draw one frame from its raw outputs (run's last steps)."""
        started = time.perf_counter()
        with_masks = config.mask_output != 'none' or want_overlay or config.with_3d
        decode = config.decode
        if decode.with_masks != with_masks:
            decode = dataclasses.replace(decode, with_masks=with_masks)
        result = self.postprocessor(outputs, prepared.frame.transform, decode)
        decoded = time.perf_counter()
        track_ids = self._track(result, config, self.clock(stamp_s, received_s))
        tracked = time.perf_counter()
        labels = None
        if config.mask_output == 'instance':
            labels = render_instance_labels(result)
        elif config.mask_output == 'class':
            labels = render_class_labels(result, self.num_classes)
        rendered = time.perf_counter()
        overlay = None
        source = prepared.source
        if want_overlay:
            overlay = draw_overlay(to_bgr(source.array, source.encoding), result,
                                   self.class_names, instance_labels=(
                                       labels if config.mask_output == 'instance' else None),
                                   track_ids=track_ids)
        finished = time.perf_counter()
        return FrameOutputs(result, track_ids, labels, overlay,
                            {'preprocess': prepared.preprocess_s,
                             'inference': inference_s,
                             'decode': decoded - started,
                             'track': tracked - decoded,
                             'render': rendered - tracked,
                             'overlay': finished - rendered},
                            self.tracker.active_tracks)

    def _track(self, result: SegmentationResult, config: RuntimeConfig,
               stamp_s: float) -> Optional[tuple[Optional[int], ...]]:
        if config.tracking == 'none':
            self.tracker.reset()  # its ids keep counting: none is reused after a switch
            return None
        self.tracker.config = config.tracker
        return tuple(track_result(self.tracker, result, stamp_s))


def track_result(tracker: ByteTracker, result: SegmentationResult,
                 stamp_s: float) -> list[Optional[int]]:
    """
    Track one decoded frame; return the track id (or None) of each published detection.

    The tracker gets every decoded detection, the low-score set below conf_threshold included
    (ByteTrack's second association), so that tracks live through frames of low scores.
    """
    ids = tracker.update(np.concatenate([result.boxes_xyxy, result.low_boxes_xyxy]),
                         np.concatenate([result.scores, result.low_scores]), stamp_s)
    return ids[:len(result)]


def default_class_names_file() -> Path:
    """Return the COCO-80 names file installed with the package (or next to the sources)."""
    try:
        from ament_index_python.packages import (get_package_share_directory,
                                                 PackageNotFoundError)
        try:
            share = Path(get_package_share_directory(PACKAGE_NAME))
        except PackageNotFoundError:
            share = Path(__file__).resolve().parents[1]
    except ImportError:
        share = Path(__file__).resolve().parents[1]
    return share / 'config' / 'coco80_class_names.txt'


def load_pipeline(values: Mapping[str, Any],
                  backend_factory: Callable[..., Backend]) -> SegmentationPipeline:
    """Validate the parameter values, load the class names and the model; raises StartupError."""
    for name, value in values.items():
        problem = validate(name, value)
        if problem:
            raise StartupError(f'parameter {problem}')
    if not values['model_path']:
        raise StartupError('parameter model_path is empty: set it to a .bin (BPU) or '
                           '.onnx (onnxruntime) YOLOv8, YOLO11, YOLOv9 or YOLO26-seg model')
    class_names = load_class_names(values['class_names'], values['class_names_file'],
                                   default_class_names_file())
    try:
        backend = backend_factory(values['backend'], values['model_path'],
                                  num_threads=values['num_threads'],
                                  providers=tuple(values['onnx_providers']),
                                  bpu_priority=values['bpu_priority'],
                                  bpu_cores=tuple(values['bpu_cores']))
    except BackendError as error:
        raise StartupError(str(error)) from error
    try:  # an inference process must not outlive a failed configure
        try:
            pipeline = SegmentationPipeline(backend, values['resize_mode'], class_names)
        except BackendError as error:
            raise StartupError(str(error)) from error
        check_class_count(class_names, pipeline.num_classes, values['model_path'])
        problem = validate('classes', values['classes'], pipeline.num_classes)
        if problem:
            raise StartupError(f'parameter {problem}')
    except BaseException:
        close = getattr(backend, 'close', None)
        if close is not None:
            close()
        raise
    return pipeline
