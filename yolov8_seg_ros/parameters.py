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
import re
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Union

import yaml

from yolov8_seg_ros.backends import BACKEND_NAMES, BPU_ANY_CORE, BPU_DEFAULT_PRIORITY, \
    BPU_PRIORITY_RANGE, scheduling_problem
from yolov8_seg_ros.decode import DECODE_RANGES, DecodeConfig, NMS_MODES
from yolov8_seg_ros.depth import Depth3DConfig, DEPTH_RANGES
from yolov8_seg_ros.names import INPUT_TOPICS, INPUT_TRANSPORTS
from yolov8_seg_ros.tracking import TrackerConfig, TRACKERS, TRACKING_RANGES
from yolov8_seg_ros.transform import RESIZE_MODES

RELIABILITIES = ('best_effort', 'reliable')
# 'none', not 'off': YAML (params files, `ros2 param set`) reads an unquoted off as false.
MASK_OUTPUTS = ('instance', 'class', 'none')
CLASS_ID_FORMATS = ('id', 'name')
PROVIDER_NAMES = ('cpu', 'cuda', 'tensorrt')
ALL_CLASSES = -1
# When a parameter's new value takes effect: now (the next frame), at the next lifecycle
# configure (it can change only while the node is unconfigured), or at startup only.
APPLIES = ('now', 'configure', 'startup')

Value = Union[bool, int, float, str, list]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: default, meaning, and its allowed values or range."""

    name: str
    default: Value
    description: str
    applies: str = 'now'  # one of APPLIES: when a new value takes effect
    choices: tuple[str, ...] = ()
    value_range: Optional[tuple[float, float]] = None


# The decoder's and the tracker's defaults are their parameters' defaults.
_DECODE = DecodeConfig()
_TRACKER = TrackerConfig()
_DEPTH = Depth3DConfig()

PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('autostart', True, 'Configure and activate at startup (as a plain node); false: '
              'wait unconfigured for a lifecycle manager or `ros2 lifecycle set`',
              applies='startup'),
    ParamSpec('lazy', False, 'Hold no image (or depth) subscription while nothing subscribes '
              'to an output; the first subscriber brings it back within half a second'),
    ParamSpec('model_path', '', 'Model file: .bin (RDK X5 BPU) or .onnx (ONNX Runtime), '
              'with the 10 split-head outputs (YOLOv8, YOLO11, YOLOv9 or YOLO26-seg)',
              applies='configure'),
    ParamSpec('backend', 'auto', 'Inference backend; auto: .onnx -> onnxruntime, .bin -> '
              'hbm_runtime (RDK OS >= 3.5), else hobot_dnn (pyeasy_dnn)',
              applies='configure', choices=BACKEND_NAMES),
    ParamSpec('input_transport', 'raw', 'raw: sensor_msgs/Image on {raw}; compressed: '
              'sensor_msgs/CompressedImage (jpeg, png) on {compressed}; hbmem: TROS '
              'hbm_img_msgs/HbmMsg1080P on {hbmem}'.format(**INPUT_TOPICS), applies='configure',
              choices=INPUT_TRANSPORTS),
    ParamSpec('image_reliability', 'best_effort', 'Reliability of the image subscription; '
              'best_effort also receives reliable publishers. Read at startup: it is the '
              'default of the read-only qos_overrides.<image topic>.subscription.reliability '
              '(rclpy declares it once), which wins when given', applies='startup',
              choices=RELIABILITIES),
    ParamSpec('hbmem_frame_id', 'default_cam', 'frame_id of the outputs for hbmem input '
              '(HbmMsg1080P carries a stamp but no frame_id)', applies='configure'),
    ParamSpec('resize_mode', 'letterbox', 'How frames are fitted to the model input: '
              'letterbox (keep aspect, pad 127) or stretch; must match how the model was '
              'trained and calibrated', applies='configure', choices=RESIZE_MODES),
    ParamSpec('class_names', [''], "Class names in model order; [''] means: read "
              'class_names_file', applies='configure'),
    ParamSpec('class_names_file', '', 'Text file with one class name per line; empty: the '
              "package's config/coco80_class_names.txt", applies='configure'),
    ParamSpec('num_threads', 0, 'ONNX Runtime intra-op threads (0: its default)',
              applies='configure', value_range=(0, 256)),
    ParamSpec('onnx_providers', ['cpu'], 'ONNX Runtime execution providers in order of '
              f'preference, from {PROVIDER_NAMES}; unavailable ones fall back to the CPU',
              applies='configure'),
    ParamSpec('bpu_priority', BPU_DEFAULT_PRIORITY, 'BPU task priority of the model, higher '
              'runs first (255 may preempt); hbm_runtime: set_scheduling_params, hobot_dnn: '
              'every forward; onnxruntime ignores it', applies='configure',
              value_range=BPU_PRIORITY_RANGE),
    ParamSpec('bpu_cores', [BPU_ANY_CORE], f'BPU cores the model runs on: [{BPU_ANY_CORE}] '
              'lets the runtime pick, else core indices from 0 (the RDK X5 has core 0); '
              'hobot_dnn takes one core; onnxruntime ignores it', applies='configure'),
    ParamSpec('inference_process', False, 'Run the model in a separate process (shared '
              'memory in and out), so that it infers the next frame while this one is decoded, '
              'published and located in 3D: worth it when the model time and the CPU time per '
              'frame are both large (BPU runtimes hold the GIL while they infer)',
              applies='configure'),
    ParamSpec('conf_threshold', _DECODE.conf_threshold, 'Minimum class score of a published '
              'detection', value_range=DECODE_RANGES['conf_threshold']),
    ParamSpec('iou_threshold', _DECODE.iou_threshold, 'NMS IoU threshold',
              value_range=DECODE_RANGES['iou_threshold']),
    ParamSpec('max_det', _DECODE.max_det, "Most detections kept per frame (the tracker's "
              'low-score ones included)', value_range=DECODE_RANGES['max_det']),
    ParamSpec('pre_nms_topk', _DECODE.pre_nms_topk, 'Most candidates passed to NMS (highest '
              'scores first)', value_range=DECODE_RANGES['pre_nms_topk']),
    ParamSpec('classes', [ALL_CLASSES], 'Class ids to keep; [-1] keeps every class'),
    ParamSpec('agnostic_nms', _DECODE.agnostic_nms, 'NMS across classes instead of per class'),
    ParamSpec('nms_mode', _DECODE.nms_mode, 'How detections are selected: auto (top-k by '
              'score without NMS when the metadata file beside the model says one2one, as a '
              'YOLO26 exported by yolov8-seg-export; NMS otherwise, e.g. without a metadata '
              'file), nms (always) or topk (always; right only for one2one heads)',
              choices=NMS_MODES),
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
              'a new track; at least track_high_score (new tracks start only from high-score '
              'detections)', value_range=TRACKING_RANGES['track_new_score']),
    ParamSpec('track_high_score', _TRACKER.high_score, 'Detections at or above it are matched '
              'first and can start tracks; those below only extend tracks (ByteTrack)',
              value_range=TRACKING_RANGES['track_high_score']),
    ParamSpec('track_low_score', _TRACKER.low_score, 'With tracking on, detections down to '
              'this score (below conf_threshold too) are decoded for the tracker only, so '
              'tracks live through low-score frames; only those >= conf_threshold are '
              'published. At most track_high_score',
              value_range=TRACKING_RANGES['track_low_score']),
    ParamSpec('max_image_pixels', 8192 * 8192, 'Largest frame accepted (width x height); '
              'checked from the message fields or the compressed header before any decoding',
              applies='configure', value_range=(1, 2 ** 31 - 1)),
    ParamSpec('worker_stall_timeout', 10.0, 'Seconds a received frame may wait with no frame '
              'finished: then /diagnostics reports ERROR and the node exits with code 1',
              applies='startup', value_range=(1.0, 3600.0)),
    ParamSpec('diagnostics_period', 1.0, 'Seconds between /diagnostics messages',
              applies='startup', value_range=(0.1, 60.0)),
    ParamSpec('log_summary_period', 5.0, 'Seconds between one-line log summaries (0: off)',
              applies='startup', value_range=(0.0, 3600.0)),
    ParamSpec('depth_topic', '', 'Aligned depth image (sensor_msgs/Image 16UC1 mm or 32FC1 m, '
              'registered to the colour image, possibly at another resolution); empty: no 3D '
              'outputs and nothing subscribed', applies='configure'),
    ParamSpec('depth_camera_info_topic', '', "The depth image's sensor_msgs/CameraInfo; "
              'empty: camera_info beside depth_topic (image_transport convention)',
              applies='configure'),
    ParamSpec('depth_max_stamp_diff', 0.02, 'Seconds between a colour frame and the depth '
              'frame (and camera info) paired with it; frames without one get no 3D output',
              value_range=(0.0, 1.0)),
    ParamSpec('depth_min', _DEPTH.min_m, 'Nearest valid depth (m); below depth_max',
              value_range=DEPTH_RANGES['depth_min']),
    ParamSpec('depth_max', _DEPTH.max_m, 'Farthest valid depth (m)',
              value_range=DEPTH_RANGES['depth_max']),
    ParamSpec('depth_min_points', _DEPTH.min_points, 'Fewest valid depth samples under a '
              'mask for a 3D detection', value_range=DEPTH_RANGES['depth_min_points']),
    ParamSpec('depth_max_points', _DEPTH.max_points, 'Most depth samples read per object (a '
              'regular grid over the mask when it covers more); also the points published. At '
              'least depth_min_points', value_range=DEPTH_RANGES['depth_max_points']),
    ParamSpec('depth_oriented', _DEPTH.oriented, '3D boxes turned along the plane of the '
              "object's depth samples (bbox.center.orientation a unit quaternion in the depth "
              "frame, size along the box's own axes; y is the image's down within the plane); "
              'false: axis-aligned in the depth frame'),
    ParamSpec('depth_smoothing', _DEPTH.smoothing_s, 'Seconds: time scale of the '
              'constant-velocity Kalman filter that steadies the 3D centre and size of each '
              'confirmed track (0: off); larger is steadier and slower to follow a change of '
              'speed (0.5 at 30 fps: about 3.8x less jitter, no lag at a steady speed)',
              value_range=DEPTH_RANGES['depth_smoothing']),
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
    with_3d: bool  # depth_topic is set: masks are needed for the 3D step
    depth: Depth3DConfig
    depth_max_stamp_diff_s: float


def change_refusal(name: str, node_fqn: str, configured: bool) -> Optional[str]:
    """Return why parameter name cannot change in the node's lifecycle state now, or None."""
    spec = SPECS.get(name)
    if spec is None or spec.applies == 'now':
        return None
    if spec.applies == 'startup':
        return f'{name} is read at startup only: restart the node to change it'
    if configured:
        return (f'{name} takes effect at configure: change it while {node_fqn} is unconfigured '
                f'(ros2 lifecycle set {node_fqn} deactivate, then cleanup; set it; then '
                'configure and activate)')
    return None


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
    if name == 'bpu_cores':
        return scheduling_problem(BPU_DEFAULT_PRIORITY, list(value))
    return None


class GivenValue(NamedTuple):
    """A parameter value as the user gave it, and where."""

    value: Any
    shown: str  # as the user wrote it: '-p' text, or the YAML value and its params file


def given_values(argv: Sequence[str], node_fqn: str) -> dict[str, GivenValue]:
    """
    Return what argv's --ros-args give this node: `-p name:=value` and --params-file entries.

    Later ones win, as in rcl. Params-file keys are matched as rcl matches the usual ones: /**,
    the node's name or its fully qualified name (wildcards other than /** are not read).
    """
    node_name = node_fqn.rsplit('/', 1)[-1]
    given: dict[str, GivenValue] = {}
    in_ros_args = False
    for index, arg in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else None
        if arg == '--ros-args':
            in_ros_args = True
        elif arg == '--':
            in_ros_args = False
        elif not in_ros_args or following is None:
            continue
        elif arg in ('-p', '--param'):
            name, sep, text = following.partition(':=')
            if sep and (':' not in name or name.split(':', 1)[0] in (node_name, node_fqn)):
                try:
                    value = rcl_yaml_load(text) if text else ''
                except yaml.YAMLError:
                    value = text
                given[name.rsplit(':', 1)[-1]] = GivenValue(value, text)
        elif arg == '--params-file':
            for name, value in _params_file_values(Path(following), node_name, node_fqn):
                given[name] = GivenValue(value, f'{value!r} in {following}')
    return given


_PLAIN = '!rcl-plain'  # the tag of an untagged plain scalar: rcl types it by its text
_RCL_TRUE = ('Y', 'y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON')
_RCL_FALSE = ('N', 'n', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF')
_RCL_SPECIAL_FLOATS = {'.nan': float('nan'), '.NaN': float('nan'), '.NAN': float('nan'),
                       '.inf': float('inf'), '.Inf': float('inf'), '.INF': float('inf'),
                       '-.inf': float('-inf'), '-.Inf': float('-inf'), '-.INF': float('-inf')}
# What C's strtoll(text, &end, 0) and strtod(text, &end) read whole (rcl's number rules).
_C_INTEGER = re.compile(r'\s*[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)')
_C_DECIMAL = re.compile(r'\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?'
                        r'|inf(inity)?|nan(\([0-9A-Za-z_]*\))?)', re.IGNORECASE)
_C_HEX_FLOAT = re.compile(r'\s*[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)'
                          r'([pP][+-]?\d+)?')


class _RclResolver(yaml.resolver.BaseResolver):
    """Leave an untagged plain scalar for rcl's rules instead of YAML 1.1's."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


class _RclComposer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                   yaml.composer.Composer, _RclResolver):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _RclResolver.__init__(self)


def rcl_scalar(text: str) -> Union[bool, int, float, str]:
    """Type a plain YAML scalar as rcl's parameter parser does (rcl_yaml_param_parser)."""
    if text in _RCL_TRUE or text in _RCL_FALSE:
        return text in _RCL_TRUE
    if _C_INTEGER.fullmatch(text):
        digits = text.strip()
        sign, body = (-1, digits[1:]) if digits[0] == '-' else (1, digits.lstrip('+'))
        if body[:2] in ('0x', '0X'):
            number = int(body, 16)
        else:
            number = int(body, 8) if len(body) > 1 and body[0] == '0' else int(body)
        if -2 ** 63 <= sign * number < 2 ** 63:
            return sign * number  # out of range: strtoll fails, strtod reads it below
    if text in _RCL_SPECIAL_FLOATS:
        return _RCL_SPECIAL_FLOATS[text]
    if _C_DECIMAL.fullmatch(text):
        return float(text.strip().split('(')[0])
    if _C_HEX_FLOAT.fullmatch(text):
        body = text.strip()
        return float.fromhex(body if 'p' in body.lower() else body + 'p0')
    return text


def _rcl_value(node: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        return {str(key.value): _rcl_value(value) for key, value in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_rcl_value(item) for item in node.value]
    return rcl_scalar(node.value) if node.tag == _PLAIN else node.value


def rcl_yaml_load(text: str) -> Any:
    """
    Parse a params file or a `-p name:=value` value with rcl's scalar types, not YAML 1.1's.

    rcl reads y/on as true, 5e-3 and 1.5e1 as doubles, 0x10 as an integer and a quoted or !!str
    scalar as a string; PyYAML's safe_load differs on each of these.
    """
    loader = _RclComposer(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    return None if node is None else _rcl_value(node)


def _params_file_values(path: Path, node_name: str,
                        node_fqn: str) -> list[tuple[str, Any]]:
    """Parameters a params file sets for this node, in file order (unreadable: none)."""
    try:
        document = rcl_yaml_load(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # rcl reports what it cannot read itself
    values = []

    def walk(node: Any, keys: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        for key, child in node.items():
            if key == 'ros__parameters' and isinstance(child, dict):
                target = '/'.join(k.strip('/') for k in keys)
                if target in ('**', node_name, node_fqn.strip('/')):
                    values.extend(_flatten(child))
            else:
                walk(child, (*keys, str(key)))

    walk(document, ())
    return values


def _flatten(parameters: dict, prefix: str = '') -> list[tuple[str, Any]]:
    """Nested YAML maps as dotted parameter names."""
    flat = []
    for key, value in parameters.items():
        if isinstance(value, dict):
            flat.extend(_flatten(value, f'{prefix}{key}.'))
        else:
            flat.append((f'{prefix}{key}', value))
    return flat


def _same_type(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, list):
        return isinstance(value, list) and all(_same_type(v, default[0]) for v in value)
    return type(value) is type(default)


def unapplied_value_problem(name: str, given: GivenValue, effective: Any) -> Optional[str]:
    """
    Return why a given value did not become the effective value (None: it did).

    rcl drops some values without a word (an empty list; a string for a number when another
    params file or -p sets the same name); the node refuses to start on them instead.
    """
    spec = SPECS.get(name)
    if spec is None:
        return None
    value = given.value
    if value == effective and _same_type(value, spec.default):
        return None
    if isinstance(value, list) and not value:
        return (f'{name} := []: ROS cannot type an empty list; give at least one value '
                f'(default {spec.default!r})')
    if not _same_type(value, spec.default) and not (
            isinstance(spec.default, float) and type(value) is int and value == effective):
        return (f'{name} := {given.shown}: expected a {type_name(spec.default)} like '
                f'{spec.default!r}, got a {type_name(value)}')
    return f'{name} := {given.shown} was not applied (the node got {effective!r})'


def type_name(value: Any) -> str:
    """Return the ROS parameter type of a Python value in words (double, list of string, ...)."""
    if isinstance(value, (list, tuple)):
        return f'list of {type_name(value[0])}' if value else 'empty list'
    return {bool: 'bool', int: 'integer', float: 'double', str: 'string'}.get(
        type(value), type(value).__name__)


def runtime_config(values: Mapping[str, Any]) -> RuntimeConfig:
    """
    Build the per-frame config from parameter values, each already validated alone.

    Raises ValueError (the reason, naming the parameters) when values that must agree do not,
    such as track_new_score below track_high_score.
    """
    classes = tuple(int(c) for c in values['classes'])
    tracker = TrackerConfig(match_iou=float(values['track_match_iou']),
                            lost_time_s=float(values['track_lost_time']),
                            new_score=float(values['track_new_score']),
                            high_score=float(values['track_high_score']),
                            low_score=float(values['track_low_score']))
    tracking = str(values['tracking'])
    decode = DecodeConfig(conf_threshold=float(values['conf_threshold']),
                          iou_threshold=float(values['iou_threshold']),
                          max_det=int(values['max_det']),
                          pre_nms_topk=int(values['pre_nms_topk']),
                          agnostic_nms=bool(values['agnostic_nms']),
                          nms_mode=str(values['nms_mode']),
                          classes=None if classes == (ALL_CLASSES,) else classes,
                          low_score_threshold=(None if tracking == 'none'
                                               else tracker.low_score))
    depth = Depth3DConfig(min_m=float(values['depth_min']), max_m=float(values['depth_max']),
                          min_points=int(values['depth_min_points']),
                          max_points=int(values['depth_max_points']),
                          oriented=bool(values['depth_oriented']),
                          smoothing_s=float(values['depth_smoothing']))
    return RuntimeConfig(decode, str(values['mask_output']), bool(values['publish_overlay']),
                         str(values['class_id_format']), tracking, tracker,
                         bool(values['depth_topic']), depth,
                         float(values['depth_max_stamp_diff']))


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
    except UnicodeDecodeError as error:
        raise StartupError(f'class_names_file {str(path)!r} is not UTF-8 text (byte '
                           f'{error.start}: {error.reason})') from error
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
