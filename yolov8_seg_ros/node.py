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
The yolov8_seg ROS 2 node: parameters, topics, a worker thread and diagnostics; nothing else.

Images arrive on the executor thread and are handed to one worker through a latest-frame slot;
the worker runs yolov8_seg_ros.pipeline and publishes with the input image's header. The main
thread spins and watches the worker: a dead or stalled worker ends the process with exit code 1.
"""

from __future__ import annotations

from pathlib import Path
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, NamedTuple, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
import rclpy
from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                              ParameterUninitializedException)
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (DurabilityPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, Detection3DArray, LabelInfo
from visualization_msgs.msg import MarkerArray

from yolov8_seg_ros.backends import Backend, BackendError, create_backend
from yolov8_seg_ros.depth import DepthInputError, locate_frame, nearest_by_stamp
from yolov8_seg_ros.image_conversion import (format_mismatch, from_compressed, from_hbm,
                                             from_image, SourceImage)
from yolov8_seg_ros.messages import (detections_3d_msg, detections_msg, diagnostics_msg,
                                     image_msg, label_image_msg, label_info_msg, markers_msg,
                                     points_msg, stamp_seconds)
from yolov8_seg_ros.names import (DETECTIONS_3D_TOPIC, DETECTIONS_TOPIC, INPUT_TOPICS,
                                  LABEL_INFO_TOPIC, MARKERS_TOPIC, MASK_TOPIC, NODE_NAME,
                                  OVERLAY_TOPIC, PACKAGE_NAME, POINTS_TOPIC, sibling_camera_info)
from yolov8_seg_ros.parameters import (change_refusal, check_class_count, given_values,
                                       load_class_names,
                                       PARAMETERS, ParamSpec, runtime_config, StartupError,
                                       type_name, unapplied_value_problem, validate)
from yolov8_seg_ros.pipeline import SegmentationPipeline, STAGES
from yolov8_seg_ros.preprocess import ImageFormatError
from yolov8_seg_ros.runtime import (describe_error, KindThrottle, LatestFrameSlot,
                                    PipelineStats)
from yolov8_seg_ros.tracking import load_assignment_solver, TrackerUnavailableError

BackendFactory = Callable[..., Backend]


class _Frame(NamedTuple):
    msg: Any
    received_s: float  # time.perf_counter() when the callback ran


# The 3D counters in /diagnostics: every processed frame is paired, unmatched or bad.
DEPTH_COUNTERS = ('frames_depth_paired', 'frames_depth_unmatched', 'frames_depth_bad',
                  'objects_3d', 'objects_without_3d')
# How often the subscriptions follow the state and (lazy) the outputs' subscriber counts.
LAZY_CHECK_PERIOD_S = 0.5


class _StampedMessages:
    """
    The recent messages of one topic by header stamp: a message_filters.Cache, thread-safe.

    The Cache is filled on the executor thread and read by the worker: a lock keeps its two
    parallel lists (stamps, messages) consistent while they are read. The subscription comes
    and goes with the image subscription; the cache stays.
    """

    def __init__(self, node: Node, msg_type: type, topic: str, size: int = 30) -> None:
        import message_filters
        self._lock = threading.Lock()
        self._msg_type = msg_type
        self._relative_topic = topic
        self.topic = node.resolve_topic_name(topic)
        self._subscriber: Any = None
        # Subscriber -> (under the lock) -> Cache, through a plain filter stage.
        self._locked = message_filters.SimpleFilter()
        self._cache = message_filters.Cache(self._locked, cache_size=size)

    def subscribe(self, node: Node, qos: QoSProfile) -> None:
        """Subscribe (qos_overrides.<topic>.subscription.* apply); no-op when subscribed."""
        import message_filters
        if self._subscriber is not None:
            return
        self._subscriber = message_filters.Subscriber(
            node, self._msg_type, self._relative_topic, qos_profile=qos,
            qos_overriding_options=QoSOverridingOptions.with_default_policies())
        self._subscriber.registerCallback(self._add)

    def unsubscribe(self) -> None:
        """Destroy the subscription (message_filters has no call for it: its rclpy one)."""
        if self._subscriber is not None:
            self._subscriber.node.destroy_subscription(self._subscriber.sub)
            self._subscriber = None

    def _add(self, msg: Any) -> None:
        with self._lock:
            self._locked.signalMessage(msg)

    def nearest(self, stamp_ns: int, max_diff_ns: int) -> Optional[Any]:
        """Return the message nearest stamp_ns within max_diff_ns, or None."""
        with self._lock:
            stamped = list(zip((t.nanoseconds for t in self._cache.cache_times),
                               self._cache.cache_msgs))
        return nearest_by_stamp(stamped, stamp_ns, max_diff_ns)

    def latest_stamp_s(self) -> Optional[float]:
        """Seconds of the newest stamp received, or None."""
        with self._lock:
            latest = self._cache.getLastestTime()
        return None if latest is None else latest.nanoseconds * 1e-9


class _Input(NamedTuple):
    """The image input configure chose: message type, converter, topic, limits."""

    msg_type: type
    convert: Callable[[Any, Any], tuple[SourceImage, Header]]
    relative_topic: str
    topic: str  # resolved
    max_pixels: int
    hbmem_frame_id: str


class _Outputs:
    """
    The publishers configure creates and cleanup destroys.

    The per-frame outputs are lifecycle publishers (publishing only while active); label_info
    is latched and published at configure. Each takes qos_overrides.<topic>.publisher.*.
    """

    def __init__(self, node: LifecycleNode, with_3d: bool) -> None:
        overrides = QoSOverridingOptions.with_default_policies()
        image_qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)

        def managed(msg_type: type, topic: str, qos: Any) -> Any:
            return node.create_lifecycle_publisher(msg_type, f'~/{topic}', qos,
                                                   qos_overriding_options=overrides)
        self.detections = managed(Detection2DArray, DETECTIONS_TOPIC, 10)
        self.mask = managed(Image, MASK_TOPIC, image_qos)
        self.overlay = managed(Image, OVERLAY_TOPIC, image_qos)
        self.label_info = node.create_publisher(LabelInfo, f'~/{LABEL_INFO_TOPIC}', latched,
                                                qos_overriding_options=overrides)
        self.detections_3d = self.markers = self.points = None
        if with_3d:
            self.detections_3d = managed(Detection3DArray, DETECTIONS_3D_TOPIC, 10)
            self.markers = managed(MarkerArray, MARKERS_TOPIC, 10)
            self.points = managed(PointCloud2, POINTS_TOPIC, 10)

    def _managed(self) -> list[Any]:
        return [publisher for publisher in (self.detections, self.mask, self.overlay,
                                            self.detections_3d, self.markers, self.points)
                if publisher is not None]

    def subscribed(self) -> bool:
        """Return True when anyone subscribes to a per-frame output."""
        return any(publisher.get_subscription_count() > 0 for publisher in self._managed())

    def destroy(self, node: LifecycleNode) -> None:
        """Destroy every publisher."""
        for publisher in self._managed():
            node.destroy_lifecycle_publisher(publisher)
        node.destroy_publisher(self.label_info)


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


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    text = spec.description + (f' (one of {", ".join(spec.choices)})' if spec.choices else '')
    if spec.applies == 'configure':
        text += '; takes effect at the next configure (change it while unconfigured)'
    descriptor = ParameterDescriptor(description=text, read_only=spec.applies == 'startup')
    if spec.value_range is not None:
        low, high = spec.value_range
        if isinstance(spec.default, float):
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(low), to_value=float(high), step=0.0)]
        else:
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                     step=1)]
    return descriptor


class SegmentationNode(LifecycleNode):
    """
    A managed node: subscribes to camera images, publishes detections, mask, overlay, 3D.

    configure loads the model and creates the outputs, activate subscribes to the images,
    deactivate unsubscribes (the model stays loaded), cleanup unloads the model.
    """

    def __init__(self, backend_factory: BackendFactory = create_backend,
                 argv: Sequence[str] = (), **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        values = self._declare_parameters()
        # rclpy does not say which overrides rcl dropped: argv is read again for them (its
        # -p values and params files) and compared with what was declared.
        for name, given in given_values(argv, self.get_fully_qualified_name()).items():
            problem = unapplied_value_problem(name, given, values.get(name))
            if problem:
                raise StartupError(f'parameter {problem}')
        self._values = values
        self._backend_factory = backend_factory
        # Set by configure, cleared by cleanup.
        self._pipeline: Optional[SegmentationPipeline] = None
        self._config: Any = None
        self._outputs: Optional[_Outputs] = None
        self._input: Optional[_Input] = None
        self._depth: Optional[tuple[_StampedMessages, _StampedMessages]] = None
        self.configure_error: Optional[str] = None  # why the last configure failed
        self._quiet_configure = False  # autostart: main() prints the reason once, as FATAL
        self._image_subscription: Any = None  # held while active (lazy: while listened to)
        # The primary state after each transition callback (rclpy has no public getter).
        self._state = 'unconfigured'
        self._active_tracks = 0  # after the last processed frame
        self._stall_timeout_s = float(values['worker_stall_timeout'])
        self._throttle = KindThrottle(period_s=5.0)
        self._stats = PipelineStats(STAGES)
        self._depth_counts = dict.fromkeys(DEPTH_COUNTERS, 0)
        self._slot: LatestFrameSlot[_Frame] = LatestFrameSlot()
        self._threshold_changed = threading.Event()
        self.failure: Optional[str] = None  # set when the node must end with exit code 1

        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(values['diagnostics_period'], self._publish_diagnostics)
        if values['log_summary_period'] > 0:
            self.create_timer(values['log_summary_period'], self._log_summary)
        self.create_timer(LAZY_CHECK_PERIOD_S, self._update_subscriptions)
        # A daemon thread: a worker stuck in a native call must not keep a failed process alive.
        self._worker = threading.Thread(target=self._work, name='yolov8_seg_worker',
                                        daemon=True)
        self._worker.start()

    @property
    def state_label(self) -> str:
        """Return the lifecycle state: unconfigured, inactive, active or finalized."""
        return self._state

    @property
    def finalized(self) -> bool:
        """Return True once shutdown ran: the process ends."""
        return self._state == 'finalized'

    def autostart(self) -> bool:
        """Configure and activate (autostart); False with configure_error set when it fails."""
        self._quiet_configure = True
        try:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                return False
        finally:
            self._quiet_configure = False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    # Lifecycle transitions (on the executor thread, like every callback).
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model, class names and pipeline; create the outputs; publish label_info."""
        try:
            pipeline = self._load(self._values, self._backend_factory)
            config = self._startup_config(self._values)
            source = self._input_source(self._values)
            depth = self._depth_inputs(self._values) if self._values['depth_topic'] else None
        except StartupError as error:
            self.configure_error = str(error)
            if not self._quiet_configure:
                self.get_logger().error(f'configure failed: {error}')
            return TransitionCallbackReturn.FAILURE
        self.configure_error = None
        self._pipeline, self._config, self._input, self._depth = pipeline, config, source, depth
        self._outputs = _Outputs(self, with_3d=depth is not None)
        self._state = 'inactive'
        self._publish_label_info()
        backend = pipeline.backend
        self.get_logger().info(
            f'{backend.name} {backend.runtime_version} backend, model '
            f'{self._values["model_path"]} ({backend.input_wh[0]}x{backend.input_wh[1]} '
            f'{backend.input_format}, {pipeline.num_classes} classes); input {source.topic} '
            f'({self._values["input_transport"]})')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Enable the outputs and subscribe to the images (lazy: once someone listens)."""
        result = super().on_activate(state)
        self._state = 'active'
        self._update_subscriptions()
        idle = self._idle_reason()
        self.get_logger().info(idle or f'active: listening on {self._input.topic}')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe and let the frame in progress finish; the model stays loaded."""
        self._state = 'inactive'
        self._unsubscribe()
        self.get_logger().info('inactive: image subscription dropped, model kept')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the outputs and unload the model."""
        self._release()
        self._state = 'unconfigured'
        self.get_logger().info('unconfigured: model unloaded')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any state: unsubscribe, unload, and let the process end (exit code 0)."""
        self._stop_everything('finalized')
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything: the node goes back to unconfigured."""
        self._stop_everything('unconfigured')
        return TransitionCallbackReturn.SUCCESS

    def _stop_everything(self, next_state: str) -> None:
        self._state = next_state
        self._unsubscribe()
        self._release()

    def _release(self) -> None:
        if self._outputs is not None:
            self._outputs.destroy(self)  # the subscriptions went in deactivate or shutdown
        self._outputs = self._input = self._depth = None
        self._pipeline = self._config = None

    # Subscriptions: held while active, and (lazy) while someone subscribes to an output.
    def _wants_images(self) -> bool:
        if self._state != 'active' or self._outputs is None:
            return False
        return not self._values['lazy'] or self._outputs.subscribed()

    def _update_subscriptions(self) -> None:
        wanted = self._wants_images()
        if wanted and self._image_subscription is None:
            source, qos = self._input, self._image_qos()
            self._image_subscription = self.create_subscription(
                source.msg_type, source.relative_topic, self._on_image, qos,
                qos_overriding_options=QoSOverridingOptions.with_default_policies())
            if self._depth is not None:
                for cache in self._depth:
                    cache.subscribe(self, qos)
        elif not wanted and self._image_subscription is not None:
            self._unsubscribe()

    def _unsubscribe(self) -> None:
        """Drop the image (and depth) subscriptions; the waiting frame is counted dropped."""
        if self._image_subscription is not None:
            self.destroy_subscription(self._image_subscription)
            self._image_subscription = None
        if self._depth is not None:
            for cache in self._depth:
                cache.unsubscribe()
        dropped, idle = self._slot.drain(timeout_s=self._stall_timeout_s)
        if dropped:
            self._stats.frame_dropped()
        if not idle:
            self.get_logger().warning('the frame in progress did not finish; the watchdog ends '
                                      'the node if the worker stays stuck')

    def _idle_reason(self) -> Optional[str]:
        """Return why no images are taken on purpose now, or None while they are."""
        state = self.state_label
        if state == 'unconfigured':
            return ('unconfigured: waiting for configure'
                    + (f' (last configure failed: {self.configure_error})'
                       if self.configure_error else ''))
        if state == 'inactive':
            return 'inactive: model loaded, no image subscription'
        if state == 'active' and self._image_subscription is None:
            return 'active, lazy: no output subscriber, so no image subscription'
        return None

    def _declare_parameters(self) -> dict[str, Any]:
        """Declare every parameter; a refused startup value raises StartupError (no traceback)."""
        values = {}
        for spec in PARAMETERS:
            try:
                values[spec.name] = self.declare_parameter(spec.name, spec.default,
                                                           _descriptor(spec)).value
            except (InvalidParameterTypeException, InvalidParameterValueException,
                    ParameterUninitializedException) as error:
                raise StartupError(self._startup_value_problem(spec, error)) from error
        return values

    def _given_value(self, name: str) -> Any:
        """
        Return the value the user gave a parameter (command line or params file) that rcl refused.

        rclpy has no public API for the override a failed declare_parameter was given: this
        reads Node._parameter_overrides (rclpy Humble to Jazzy). If rclpy renames it, the FATAL
        line only loses the offending value ('(not available)'), never its reason.
        """
        overrides = getattr(self, '_parameter_overrides', None)
        given = overrides.get(name) if isinstance(overrides, dict) else None
        return given.value if given is not None else '(not available)'

    def _startup_value_problem(self, spec: ParamSpec, error: Exception) -> str:
        value = self._given_value(spec.name)
        if isinstance(error, InvalidParameterTypeException):
            return (f'parameter {spec.name} := {value!r}: expected a {type_name(spec.default)} '
                    f'like {spec.default!r}, got a {type_name(value)}')
        problem = validate(spec.name, value)
        return f'parameter {problem or f"{spec.name} := {value!r} is not accepted"}'

    def _load(self, values: dict[str, Any],
              backend_factory: BackendFactory) -> SegmentationPipeline:
        """Validate the startup parameters and load the model; raises StartupError."""
        for name, value in values.items():
            problem = validate(name, value)
            if problem:
                raise StartupError(f'parameter {problem}')
        if not values['model_path']:
            raise StartupError('parameter model_path is empty: set it to a .bin (BPU) or '
                               '.onnx (onnxruntime) YOLOv8-seg or YOLO11-seg model')
        class_names = load_class_names(values['class_names'], values['class_names_file'],
                                       default_class_names_file())
        try:
            backend = backend_factory(values['backend'], values['model_path'],
                                      num_threads=values['num_threads'],
                                      providers=tuple(values['onnx_providers']))
            pipeline = SegmentationPipeline(backend, values['resize_mode'], class_names)
        except BackendError as error:
            raise StartupError(str(error)) from error
        for warning in backend.warnings:
            self.get_logger().warning(warning)
        check_class_count(class_names, pipeline.num_classes, values['model_path'])
        problem = validate('classes', values['classes'], pipeline.num_classes)
        if problem:
            raise StartupError(f'parameter {problem}')
        return pipeline

    @staticmethod
    def _startup_config(values: dict[str, Any]) -> Any:
        """Build the runtime config, and load the tracker's solver when tracking is on."""
        try:
            config = runtime_config(values)
            if config.tracking != 'none':
                load_assignment_solver()
        except (ValueError, TrackerUnavailableError) as error:
            raise StartupError(f'parameter {error}') from error
        return config

    def _image_qos(self) -> QoSProfile:
        """Sensor-data QoS with image_reliability; qos_overrides.<topic>.subscription.* win."""
        return QoSProfile(history=qos_profile_sensor_data.history,
                          depth=qos_profile_sensor_data.depth,
                          reliability=(ReliabilityPolicy.RELIABLE
                                       if self._values['image_reliability'] == 'reliable'
                                       else ReliabilityPolicy.BEST_EFFORT),
                          durability=qos_profile_sensor_data.durability)

    def _depth_inputs(
            self, values: dict[str, Any]) -> tuple[_StampedMessages, _StampedMessages]:
        """Return the depth image and camera info caches (subscribed while images are)."""
        try:
            import message_filters  # noqa: F401
        except ImportError as error:
            raise StartupError('depth_topic needs message_filters (ros-<distro>-message-filters)'
                               f': {error}') from error
        return (_StampedMessages(self, Image, values['depth_topic']),
                _StampedMessages(self, CameraInfo, values['depth_camera_info_topic']
                                 or sibling_camera_info(values['depth_topic'])))

    def _input_source(self, values: dict[str, Any]) -> _Input:
        """Return the input's message type, converter and topic for input_transport."""
        transport = values['input_transport']
        if transport == 'raw':
            msg_type, convert = Image, self._convert_image
        elif transport == 'compressed':
            msg_type, convert = CompressedImage, self._convert_compressed
        else:
            try:
                from hbm_img_msgs.msg import HbmMsg1080P
            except ImportError as error:
                raise StartupError('input_transport hbmem needs the TROS hbm_img_msgs package '
                                   '(source the TogetheROS.Bot setup)') from error
            msg_type, convert = HbmMsg1080P, self._convert_hbm
        relative = INPUT_TOPICS[transport]
        return _Input(msg_type, convert, relative, self.resolve_topic_name(relative),
                      int(values['max_image_pixels']), values['hbmem_frame_id'])

    def _on_image(self, msg: Any) -> None:
        dropped = self._slot.put(_Frame(msg, time.perf_counter()))
        self._stats.frame_received(dropped)

    def _convert_image(self, msg: Any, source: _Input) -> tuple[SourceImage, Header]:
        return from_image(msg, source.max_pixels), msg.header

    def _convert_compressed(self, msg: Any, source: _Input) -> tuple[SourceImage, Header]:
        image = from_compressed(msg, source.max_pixels)
        mismatch = format_mismatch(msg)
        if mismatch:
            self._warn_throttled(mismatch)
        return image, msg.header

    def _convert_hbm(self, msg: Any, source: _Input) -> tuple[SourceImage, Header]:
        return from_hbm(msg, source.max_pixels), Header(stamp=msg.time_stamp,
                                                        frame_id=source.hbmem_frame_id)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        merged = dict(self._values)
        pipeline, current = self._pipeline, self._config
        for parameter in parameters:
            if parameter.name not in merged:
                continue  # qos_overrides.* (read-only, declared by rclpy)
            problem = (change_refusal(parameter.name, self.get_fully_qualified_name(),
                                      pipeline is not None and parameter.value
                                      != self._values[parameter.name])
                       or validate(parameter.name, parameter.value,
                                   pipeline.num_classes if pipeline is not None else None))
            if problem:
                return SetParametersResult(successful=False, reason=problem)
            merged[parameter.name] = parameter.value
        try:
            config = runtime_config(merged)
            if config.tracking != 'none' and (current is None or current.tracking == 'none'):
                load_assignment_solver()
        except (ValueError, TrackerUnavailableError) as error:
            return SetParametersResult(successful=False, reason=str(error))
        threshold_changed = merged['conf_threshold'] != self._values['conf_threshold']
        self._values = merged
        if pipeline is not None:
            self._config = config  # the worker reads it once per frame
        if threshold_changed:
            # Humble has no post-set callback: the worker republishes label_info after this.
            # Signalled after the new values are in place, so the worker never reads old ones.
            self._threshold_changed.set()
        return SetParametersResult(successful=True)

    def _publish_label_info(self) -> None:
        pipeline, outputs = self._pipeline, self._outputs
        if pipeline is not None and outputs is not None:
            outputs.label_info.publish(label_info_msg(
                pipeline.class_names, self._values['conf_threshold'],
                Header(stamp=self.get_clock().now().to_msg())))

    def _work(self) -> None:
        while True:
            frame = self._slot.take(timeout_s=0.5)
            if self._threshold_changed.is_set():
                self._threshold_changed.clear()
                self._publish_label_info()
            if frame is None:
                if self._slot.closed:
                    return
                continue
            try:
                self._process(frame)
            except Exception as error:  # keep the worker alive; the frame is counted lost
                self._stats.frame_failed()
                self._error_throttled(f'frame lost: {describe_error(error)}',
                                      traceback.format_exc())
            finally:
                self._slot.done()

    def _process(self, frame: _Frame) -> None:
        started = time.perf_counter()
        # Configure and cleanup replace these only while no frame is in progress (the
        # subscription is gone and the slot drained first).
        pipeline, config, source, publishers = (self._pipeline, self._config, self._input,
                                                self._outputs)
        try:
            image, header = source.convert(frame.msg, source)
            converted = time.perf_counter()
            want_overlay = (config.publish_overlay
                            and publishers.overlay.get_subscription_count() > 0)
            stamp_s = stamp_seconds(header)
            if stamp_s is None and config.tracking != 'none':
                self._warn_throttled(f'frames on {source.topic} have no header stamp: '
                                     'tracked on their receive time (set header.stamp)')
            outputs = pipeline.run(image, config, want_overlay, stamp_s, frame.received_s)
        except ImageFormatError as error:
            self._stats.frame_bad()
            self._warn_throttled(f'skipping bad frame on {source.topic}: {error}')
            return
        except BackendError as error:
            self._stats.frame_failed()
            self._error_throttled(f'inference failed: {error}')
            return
        self._active_tracks = outputs.active_tracks
        publish_started = time.perf_counter()
        publishers.detections.publish(detections_msg(outputs.result, header,
                                                     pipeline.class_names,
                                                     config.class_id_format, outputs.track_ids))
        if outputs.labels is not None:
            publishers.mask.publish(label_image_msg(outputs.labels, header))
        if outputs.overlay_bgr is not None:
            publishers.overlay.publish(image_msg(outputs.overlay_bgr, header, 'bgr8'))
        published = time.perf_counter()
        stage_s = {'convert': converted - started, **outputs.stage_s,
                   'publish': published - publish_started}
        if self._depth is not None:
            self._publish_3d(outputs, header, config, pipeline.class_names, publishers,
                             source.max_pixels)
            stage_s['depth3d'] = time.perf_counter() - published
        finished = time.perf_counter()
        self._stats.frame_processed(stage_s,
                                    finished - frame.received_s,
                                    with_overlay=outputs.overlay_bgr is not None)

    def _publish_3d(self, outputs: Any, header: Header, config: Any, names: Sequence[str],
                    publishers: _Outputs, max_pixels: int) -> None:
        """Pair the frame with depth and camera info by stamp, and publish its 3D outputs."""
        depth_cache, info_cache = self._depth
        counts = self._depth_counts
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        max_diff_ns = int(round(config.depth_max_stamp_diff_s * 1e9))
        depth_msg = depth_cache.nearest(stamp_ns, max_diff_ns)
        info_msg = info_cache.nearest(stamp_ns, max_diff_ns) if depth_msg is not None else None
        if depth_msg is None or info_msg is None:
            counts['frames_depth_unmatched'] += 1
            missing = depth_cache if depth_msg is None else info_cache
            latest = missing.latest_stamp_s()
            self._warn_throttled(
                f'no {"depth image" if depth_msg is None else "camera info"} on '
                f'{missing.topic} within {config.depth_max_stamp_diff_s:g} s of frame '
                f'{stamp_ns * 1e-9:.3f} (newest: '
                f'{"none yet" if latest is None else f"{latest:.3f}"}): no 3D output')
            return
        try:
            objects = locate_frame(outputs.result, depth_msg, info_msg, max_pixels,
                                   config.depth)
        except DepthInputError as error:
            counts['frames_depth_bad'] += 1
            self._warn_throttled(f'skipping depth on {depth_cache.topic}: {error}')
            return
        counts['frames_depth_paired'] += 1
        counts['objects_3d'] += len(objects)
        counts['objects_without_3d'] += len(outputs.result) - len(objects)
        if len(outputs.result) and not objects:
            self._warn_throttled(f'depth on {depth_cache.topic}: no detection has '
                                 f'{config.depth.min_points} valid samples (0, NaN, or outside '
                                 f'{config.depth.min_m:g}..{config.depth.max_m:g} m)')
        header_3d = Header(stamp=header.stamp, frame_id=depth_msg.header.frame_id)
        publishers.detections_3d.publish(detections_3d_msg(
            objects, outputs.result, header_3d, names, config.class_id_format,
            outputs.track_ids))
        if publishers.markers.get_subscription_count() > 0:
            publishers.markers.publish(markers_msg(objects, outputs.result, header_3d, names,
                                                   outputs.track_ids))
        if publishers.points.get_subscription_count() > 0:
            publishers.points.publish(points_msg(objects, header_3d, outputs.track_ids))

    # rclpy fixes a logger call's severity per source line: each severity has its own line.
    def _warn_throttled(self, message: str) -> None:
        text = self._throttle.check(message)
        if text is not None:
            self.get_logger().warning(text)

    def _error_throttled(self, message: str, details: str = '') -> None:
        text = self._throttle.check(message)
        if text is not None:
            self.get_logger().error(f'{text}\n{details}' if details else text)

    def check_worker(self) -> Optional[str]:
        """Return why the node cannot go on (dead or stalled worker), or None while healthy."""
        if not self._worker.is_alive() and not self._slot.closed:
            return 'the worker thread has stopped; no frame can be processed'
        # Called ten times a second: the stall clock only, not a snapshot with percentiles.
        stalled_s = self._stats.stalled_s()
        if stalled_s > self._stall_timeout_s:
            return (f'no frame finished for {stalled_s:.1f} s while frames wait (worker '
                    f'stuck; worker_stall_timeout {self._stall_timeout_s:g} s)')
        return None

    def fail(self, reason: str) -> None:
        """Publish an ERROR diagnostics status with the reason the node is going to exit."""
        self.failure = reason
        self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        pipeline, source, depth = self._pipeline, self._input, self._depth
        values = {'lifecycle_state': self.state_label,
                  'subscribed': str(self._image_subscription is not None).lower(),
                  'lazy': str(self._values['lazy']).lower(),
                  'tracking': str(self._values['tracking']),
                  'active_tracks': str(self._active_tracks),
                  'model': str(self._values['model_path'])}
        hardware_id = str(self._values['backend'])
        if pipeline is not None:
            backend = pipeline.backend
            hardware_id = backend.name
            values.update({'backend': backend.name, 'runtime_version': backend.runtime_version,
                           'model_input': f'{backend.input_wh[0]}x{backend.input_wh[1]} '
                                          f'{backend.input_format}'})
        if source is not None:
            values['input_topic'] = source.topic
        if depth is not None:
            values['depth_topic'] = depth[0].topic
            values['depth_camera_info_topic'] = depth[1].topic
            values.update({name: str(count) for name, count in self._depth_counts.items()})
        self._diagnostics_pub.publish(diagnostics_msg(
            self._stats.snapshot(), f'{self.get_fully_qualified_name()}: segmentation',
            hardware_id, values, self.get_clock().now().to_msg(),
            error=self.failure or self.check_worker(), idle=self._idle_reason()))

    def _log_summary(self) -> None:
        if self._idle_reason() is None:  # idle on purpose: nothing new to say
            self.get_logger().info(self._stats.snapshot().summary())

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the worker after its current frame, waiting at most timeout_s for it."""
        self._slot.close()
        self._worker.join(timeout=timeout_s)


class _StopRequest:
    """SIGINT/SIGTERM set a flag that the spin loop reads; repeated signals change nothing."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested.set()

    @staticmethod
    def ignore_further() -> None:
        """Ignore later signals: the interpreter's exit resets Python handlers to the default."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


def main(args: Optional[list[str]] = None,
         backend_factory: BackendFactory = create_backend) -> int:
    """
    Run the node until SIGINT/SIGTERM or the lifecycle shutdown transition.

    Returns 1 when it cannot start (autostart) or its worker fails, else 0.
    """
    stop = _StopRequest()  # before anything slow, so an early signal is a clean stop too
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    logger = rclpy.logging.get_logger(NODE_NAME)
    try:
        node = SegmentationNode(backend_factory, sys.argv if args is None else args)
        if node.get_parameter('autostart').value and not node.autostart():
            reason = node.configure_error or f'autostart ended in {node.state_label}'
            node.stop(timeout_s=1.0)
            node.destroy_node()
            raise StartupError(reason)
    except StartupError as error:
        logger.fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    failure = None
    try:
        while not stop.requested.is_set() and failure is None and not node.finalized:
            executor.spin_once(timeout_sec=0.1)
            failure = node.check_worker()
        if failure is not None:
            logger.fatal(f'stopping: {failure}')
            node.fail(failure)
            # A moment for the ERROR status to reach /diagnostics subscribers before exiting.
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not stop.requested.is_set():
                executor.spin_once(timeout_sec=0.1)
    finally:
        # A stuck worker will not finish its frame: it is a daemon thread, exit without it.
        node.stop(timeout_s=10.0 if failure is None else 1.0)
        executor.remove_node(node)
        node.destroy_node()
        rclpy.try_shutdown()
        # A second Ctrl-C during the interpreter's exit would otherwise kill it (exit -2).
        stop.ignore_further()
    return 0 if failure is None else 1


if __name__ == '__main__':
    raise SystemExit(main())
