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
The node's parameters as plain data: names, defaults, ranges, validation and the runtime config.

No rclpy: the node turns these specs into declared parameters with descriptors, and the set-
parameters callback calls validate(). config/seg.yaml must list exactly these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import yaml

from yolov8_seg_ros.backends import BACKEND_NAMES
from yolov8_seg_ros.decode import DECODE_RANGES, DecodeConfig
from yolov8_seg_ros.names import INPUT_TOPICS, INPUT_TRANSPORTS
from yolov8_seg_ros.tracking import TrackerConfig, TRACKERS, TRACKING_RANGES
from yolov8_seg_ros.transform import RESIZE_MODES

RELIABILITIES = ('best_effort', 'reliable')
# 'none', not 'off': YAML (params files, `ros2 param set`) reads an unquoted off as false.
MASK_OUTPUTS = ('instance', 'class', 'none')
CLASS_ID_FORMATS = ('id', 'name')
PROVIDER_NAMES = ('cpu', 'cuda', 'tensorrt')
ALL_CLASSES = -1

Value = Union[bool, int, float, str, list]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: default, meaning, and its allowed values or range."""

    name: str
    default: Value
    description: str
    read_only: bool = False
    choices: tuple[str, ...] = ()
    value_range: Optional[tuple[float, float]] = None


_TRACKER = TrackerConfig()  # the tracker's defaults are its parameters' defaults

PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('model_path', '', 'Model file: .bin (RDK X5 BPU) or .onnx (ONNX Runtime), '
              'with the split-head YOLOv8-seg or YOLO11-seg outputs', read_only=True),
    ParamSpec('backend', 'auto', 'Inference backend; auto: .onnx -> onnxruntime, .bin -> '
              'hbm_runtime (RDK OS >= 3.5), else hobot_dnn (pyeasy_dnn)',
              read_only=True, choices=BACKEND_NAMES),
    ParamSpec('input_transport', 'raw', 'raw: sensor_msgs/Image on {raw}; compressed: '
              'sensor_msgs/CompressedImage (jpeg, png) on {compressed}; hbmem: TROS '
              'hbm_img_msgs/HbmMsg1080P on {hbmem}'.format(**INPUT_TOPICS), read_only=True,
              choices=INPUT_TRANSPORTS),
    ParamSpec('image_reliability', 'best_effort', 'Reliability of the image subscription; '
              'best_effort also receives reliable publishers', read_only=True,
              choices=RELIABILITIES),
    ParamSpec('hbmem_frame_id', 'default_cam', 'frame_id of the outputs for hbmem input '
              '(HbmMsg1080P carries a stamp but no frame_id)', read_only=True),
    ParamSpec('resize_mode', 'letterbox', 'How frames are fitted to the model input: '
              'letterbox (keep aspect, pad 127) or stretch; must match how the model was '
              'trained and calibrated', read_only=True, choices=RESIZE_MODES),
    ParamSpec('class_names', [''], "Class names in model order; [''] means: read "
              'class_names_file', read_only=True),
    ParamSpec('class_names_file', '', 'Text file with one class name per line; empty: the '
              "package's config/coco80_class_names.txt", read_only=True),
    ParamSpec('num_threads', 0, 'ONNX Runtime intra-op threads (0: its default)',
              read_only=True, value_range=(0, 256)),
    ParamSpec('onnx_providers', ['cpu'], 'ONNX Runtime execution providers in order of '
              f'preference, from {PROVIDER_NAMES}; unavailable ones fall back to the CPU',
              read_only=True),
    ParamSpec('conf_threshold', 0.25, 'Minimum class score of a detection',
              value_range=DECODE_RANGES['conf_threshold']),
    ParamSpec('iou_threshold', 0.7, 'NMS IoU threshold',
              value_range=DECODE_RANGES['iou_threshold']),
    ParamSpec('max_det', 300, 'Most detections kept per frame',
              value_range=DECODE_RANGES['max_det']),
    ParamSpec('pre_nms_topk', 1000, 'Most candidates passed to NMS (highest scores first)',
              value_range=DECODE_RANGES['pre_nms_topk']),
    ParamSpec('classes', [ALL_CLASSES], 'Class ids to keep; [-1] keeps every class'),
    ParamSpec('agnostic_nms', False, 'NMS across classes instead of per class'),
    ParamSpec('mask_output', 'instance', 'mask topic: instance (0 background, detections[i] '
              'of the same message has value i + 1), class (the class id as in label_info, '
              'background 255 in mono8 / 65535 in mono16, the vision_msgs UNLABELED value) or '
              'none', choices=MASK_OUTPUTS),
    ParamSpec('publish_overlay', True, 'Publish the overlay image (only drawn while someone '
              'subscribes)'),
    ParamSpec('class_id_format', 'id', 'Detection2D hypothesis class_id: id (the numeric class '
              'id as a string, names in label_info: the vision_msgs convention) or name',
              choices=CLASS_ID_FORMATS),
    ParamSpec('tracking', 'bytetrack', 'Multi-object tracker giving Detection2D.id a persistent '
              'track id: bytetrack, or none (empty ids); switching restarts the tracks',
              choices=TRACKERS),
    ParamSpec('track_match_iou', _TRACKER.match_iou, 'Least IoU between a track and a '
              'high-score detection for them to match',
              value_range=TRACKING_RANGES['track_match_iou']),
    ParamSpec('track_lost_time', _TRACKER.lost_time_s, 'Seconds (by the image stamps) an '
              'unmatched track is kept and can be found again under the same id',
              value_range=TRACKING_RANGES['track_lost_time']),
    ParamSpec('track_new_score', _TRACKER.new_score, 'Least score of a detection that starts '
              'a new track', value_range=TRACKING_RANGES['track_new_score']),
    ParamSpec('track_high_score', _TRACKER.high_score, 'Detections at or above it are matched '
              'first and can start tracks; those below only extend tracks (ByteTrack)',
              value_range=TRACKING_RANGES['track_high_score']),
    ParamSpec('max_image_pixels', 8192 * 8192, 'Largest frame accepted (width x height); '
              'checked from the message fields or the compressed header before any decoding',
              read_only=True, value_range=(1, 2 ** 31 - 1)),
    ParamSpec('worker_stall_timeout', 10.0, 'Seconds a received frame may wait with no frame '
              'finished: then /diagnostics reports ERROR and the node exits with code 1',
              read_only=True, value_range=(1.0, 3600.0)),
    ParamSpec('diagnostics_period', 1.0, 'Seconds between /diagnostics messages',
              read_only=True, value_range=(0.1, 60.0)),
    ParamSpec('log_summary_period', 5.0, 'Seconds between one-line log summaries (0: off)',
              read_only=True, value_range=(0.0, 3600.0)),
)

SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


def default_values() -> dict[str, Value]:
    """Return a fresh name -> default mapping of every parameter (what config/seg.yaml holds)."""
    return {spec.name: spec.default for spec in PARAMETERS}


class StartupError(RuntimeError):
    """The node cannot start with these parameters; the message says what to change."""


@dataclass(frozen=True)
class RuntimeConfig:
    """Settings the worker reads once per frame (replaced as a whole on a parameter change)."""

    decode: DecodeConfig
    mask_output: str
    publish_overlay: bool
    class_id_format: str
    tracking: str  # one of TRACKERS
    tracker: TrackerConfig


def validate(name: str, value: Any, num_classes: Optional[int] = None) -> Optional[str]:
    """Return why value is not acceptable for parameter name, or None when it is."""
    spec = SPECS.get(name)
    if spec is None:
        return None
    if spec.choices and value not in spec.choices:
        return f'{name} {value!r}: expected one of {spec.choices}'
    if spec.value_range is not None and not spec.value_range[0] <= value <= spec.value_range[1]:
        return f'{name} {value}: expected {spec.value_range[0]}..{spec.value_range[1]}'
    if name == 'classes':
        classes = list(value)
        if classes == [ALL_CLASSES]:
            return None
        if not classes:
            return f'classes []: list class ids to keep, or [{ALL_CLASSES}] for every class'
        limit = num_classes if num_classes is not None else float('inf')
        bad = [c for c in classes if not 0 <= c < limit]
        if bad:
            allowed = ('ids are >= 0' if num_classes is None else
                       f'the model has {num_classes} classes (0..{num_classes - 1})')
            return f'classes {classes}: ids {bad} are out of range; {allowed}, or use [-1] for all'
    if name == 'onnx_providers':
        bad = [p for p in value if p not in PROVIDER_NAMES]
        if bad or not value:
            return f'onnx_providers {list(value)}: expected some of {PROVIDER_NAMES}'
    return None


def command_line_values(argv: Sequence[str]) -> dict[str, str]:
    """Return the `-p name:=value` texts of argv's --ros-args sections (node-scoped too)."""
    given: dict[str, str] = {}
    in_ros_args = False
    for index, arg in enumerate(argv):
        if arg == '--ros-args':
            in_ros_args = True
        elif arg == '--':
            in_ros_args = False
        elif in_ros_args and arg in ('-p', '--param') and index + 1 < len(argv):
            name, sep, text = argv[index + 1].partition(':=')
            if sep:
                given[name.rsplit(':', 1)[-1]] = text
    return given


def _same_type(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, list):
        return isinstance(value, list) and all(_same_type(v, default[0]) for v in value)
    return type(value) is type(default)


def unapplied_value_problem(name: str, text: str, effective: Any) -> Optional[str]:
    """
    Return why a `-p name:=text` override did not become the effective value (None: it did).

    rcl drops some overrides without a word (an empty list, a string for a number when a params
    file sets the same name); the node refuses to start on them instead.
    """
    spec = SPECS.get(name)
    if spec is None:
        return None
    try:
        given = yaml.safe_load(text) if text else ''
    except yaml.YAMLError:
        given = text
    if given == effective and _same_type(given, spec.default):
        return None
    if isinstance(given, list) and not given:
        return (f'{name} := []: ROS cannot type an empty list; give at least one value '
                f'(default {spec.default!r})')
    if not _same_type(given, spec.default) and not (
            isinstance(spec.default, float) and type(given) is int and given == effective):
        return (f'{name} := {text}: expected a {type_name(spec.default)} like '
                f'{spec.default!r}, got a {type_name(given)}')
    return f'{name} := {text} was not applied (the node got {effective!r})'


def type_name(value: Any) -> str:
    """Return the ROS parameter type of a Python value in words (double, list of string, ...)."""
    if isinstance(value, (list, tuple)):
        return f'list of {type_name(value[0])}' if value else 'empty list'
    return {bool: 'bool', int: 'integer', float: 'double', str: 'string'}.get(
        type(value), type(value).__name__)


def runtime_config(values: Mapping[str, Any]) -> RuntimeConfig:
    """Build the per-frame config from parameter values (already validated)."""
    classes = tuple(int(c) for c in values['classes'])
    decode = DecodeConfig(conf_threshold=float(values['conf_threshold']),
                          iou_threshold=float(values['iou_threshold']),
                          max_det=int(values['max_det']),
                          pre_nms_topk=int(values['pre_nms_topk']),
                          agnostic_nms=bool(values['agnostic_nms']),
                          classes=None if classes == (ALL_CLASSES,) else classes)
    tracker = TrackerConfig(match_iou=float(values['track_match_iou']),
                            lost_time_s=float(values['track_lost_time']),
                            new_score=float(values['track_new_score']),
                            high_score=float(values['track_high_score']))
    return RuntimeConfig(decode, str(values['mask_output']), bool(values['publish_overlay']),
                         str(values['class_id_format']), str(values['tracking']), tracker)


def load_class_names(class_names: Sequence[str], class_names_file: str,
                     default_file: Path) -> list[str]:
    """Class names from the list, else from the file (one per line), else from default_file."""
    names = [n for n in class_names if n]
    if names:
        return names
    path = Path(class_names_file) if class_names_file else default_file
    try:
        lines = path.read_text(encoding='utf-8').splitlines()
    except OSError as error:
        raise StartupError(f'class_names_file {str(path)!r} cannot be read: '
                           f'{error.strerror}') from error
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise StartupError(f'class_names_file {str(path)!r} has no class names')
    return names


def check_class_count(class_names: Sequence[str], num_classes: int, model_path: str) -> None:
    """Raise StartupError unless there is exactly one name per model class."""
    if len(class_names) != num_classes:
        raise StartupError(f'model {model_path!r} has {num_classes} classes but '
                           f'{len(class_names)} class names were given (first: '
                           f'{list(class_names[:3])}); set class_names or class_names_file '
                           'to the names the model was trained with')
