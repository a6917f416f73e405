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
The yolov8_seg lifecycle node: parameters, transitions and the wiring of its parts; no logic.

Frames go from the image callback (node_inputs) to one worker thread (worker) that runs
frame_step on a snapshot of what configure built; the main thread spins and watches it.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Callable, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Header

from yolov8_seg_ros.backends import Backend, create_backend
from yolov8_seg_ros.frame_step import FrameContext, FrameStep, image_converter
from yolov8_seg_ros.inference_process import ProcessBackendFactory
from yolov8_seg_ros.messages import diagnostics_msg, label_info_msg
from yolov8_seg_ros.names import NODE_NAME
from yolov8_seg_ros.node_inputs import Inputs
from yolov8_seg_ros.node_lifecycle import (failing_loudly, failure_reason, guard_change_state,
                                           spin, StopRequest, ThrottledLog)
from yolov8_seg_ros.node_outputs import Outputs
from yolov8_seg_ros.node_params import decide_change, declare_parameters, startup_config
from yolov8_seg_ros.node_status import idle_reason, loaded_message, status_values
from yolov8_seg_ros.parameters import StartupError
from yolov8_seg_ros.pipeline import load_pipeline, SegmentationPipeline, STAGES
from yolov8_seg_ros.runtime import KindThrottle, PipelineStats
from yolov8_seg_ros.worker import FrameWorker

BackendFactory = Callable[..., Backend]
# How often the subscriptions follow the state and (lazy) the outputs' subscriber counts.
LAZY_CHECK_PERIOD_S = 0.5


class SegmentationNode(LifecycleNode):
    """A managed node: camera images in; detections, masks, overlay and 3D out."""

    def __init__(self, backend_factory: BackendFactory = create_backend,
                 argv: Sequence[str] = (), **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        self._values = declare_parameters(self, argv)
        self._backend_factory = backend_factory
        self._context: Optional[FrameContext] = None  # configure .. cleanup
        self._pipeline: Optional[SegmentationPipeline] = None
        self._outputs: Optional[Outputs] = None
        self._inputs: Optional[Inputs] = None
        # unconfigured, inactive, active or finalized after each transition (no rclpy getter)
        self.state_label = 'unconfigured'
        self.last_error: Optional[str] = None  # why the last transition failed
        self._quiet = False  # autostart: main() prints the reason once, as FATAL
        self.failure: Optional[str] = None  # set when the node must end with exit code 1
        self._throttled = throttled = ThrottledLog(self.get_logger(), KindThrottle(period_s=5.0))
        self._stats = PipelineStats(STAGES)
        self._step = FrameStep(self._stats, throttled.warning, throttled.error)
        self._stall_timeout_s = float(self._values['worker_stall_timeout'])
        self._worker = FrameWorker(self._step, lambda: self._context, self._stats,
                                   self._stall_timeout_s, throttled.error)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # Humble has no post-set callback: an accepted threshold triggers this after the set.
        self._label_info_due = self.create_guard_condition(self._publish_label_info)
        self.create_timer(self._values['diagnostics_period'], self._publish_diagnostics)
        if self._values['log_summary_period'] > 0:
            self.create_timer(self._values['log_summary_period'], self._log_summary)
        self.create_timer(LAZY_CHECK_PERIOD_S, self._follow_subscribers)
        guard_change_state(self, self.get_logger().warning)

    def autostart(self) -> bool:
        """Configure and activate (autostart); False with last_error set when it fails."""
        self._quiet = True
        try:
            return (self.trigger_configure() == TransitionCallbackReturn.SUCCESS
                    and self.trigger_activate() == TransitionCallbackReturn.SUCCESS)
        finally:
            self._quiet = False

    @failing_loudly('configure')
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model, class names and pipeline; create the outputs and inputs."""
        values = self._values
        factory = self._backend_factory
        if values['inference_process']:
            factory = ProcessBackendFactory(factory, stall_timeout_s=self._stall_timeout_s)
        self._pipeline = pipeline = load_pipeline(values, factory)
        for warning in pipeline.backend.warnings:
            self.get_logger().warning(warning)
        config = startup_config(values)
        self._outputs = Outputs(self, with_3d=bool(values['depth_topic']))
        self._inputs = Inputs(self, values, self._worker.put,
                              lambda: self._values['depth_max_stamp_diff'],
                              self._throttled.warning)
        max_pixels = int(values['max_image_pixels'])
        self._context = FrameContext(
            pipeline, config, image_converter(values['input_transport'], max_pixels,
                                              values['hbmem_frame_id']),
            self._inputs.topic, max_pixels, self._outputs, self._inputs.pairing)
        self.state_label, self.last_error = 'inactive', None
        self._publish_label_info()
        self.get_logger().info(loaded_message(pipeline, values, self._inputs.topic))
        return TransitionCallbackReturn.SUCCESS

    @failing_loudly('activate')
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Enable the outputs and subscribe to the images (lazy: once someone listens)."""
        result = super().on_activate(state)
        self.state_label = 'active'
        self._follow_subscribers(raise_errors=True)
        self.last_error = None
        self.get_logger().info(self._idle_reason() or f'active: listening on {self._inputs.topic}')
        return result

    @failing_loudly('deactivate')
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe and let the frame in progress finish; the model stays loaded."""
        self._stop_input()
        self._step.reset_3d()
        self.state_label = 'inactive'
        self.get_logger().info('inactive: image subscription dropped, model kept')
        return super().on_deactivate(state)

    @failing_loudly('cleanup')
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the outputs and unload the model."""
        self._release('unconfigured')
        self.get_logger().info('unconfigured: model unloaded')
        return TransitionCallbackReturn.SUCCESS

    @failing_loudly('shutdown')
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any state: unsubscribe, unload, and let the process end (exit code 0)."""
        self._stop_input()
        self._release('finalized')
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything: the node goes back to unconfigured."""
        self._stop_input()
        self._release('unconfigured')
        return TransitionCallbackReturn.SUCCESS

    def transition_failed(self, name: str, error: Exception) -> TransitionCallbackReturn:
        """Log why a transition failed (once), release what it had made, and say FAILURE."""
        self.last_error = failure_reason(name, error)
        if not (self._quiet and name in ('configure', 'activate')):
            self.get_logger().error(self.last_error)
        if name == 'activate':  # back to inactive: no subscription, publishers disabled
            self._stop_input()
            LifecycleNode.on_deactivate(self, None)
            self.state_label = 'inactive'
            return TransitionCallbackReturn.FAILURE
        if name == 'configure':
            self._release('unconfigured')
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.ERROR  # on_error releases everything

    def _release(self, next_state: str) -> None:
        if self._inputs is not None:
            self._inputs.unsubscribe()
        if self._outputs is not None:
            self._outputs.destroy()
        if self._pipeline is not None:
            self._pipeline.close()
        self._context = self._inputs = self._outputs = self._pipeline = None
        self.state_label = next_state

    def _follow_subscribers(self, raise_errors: bool = False) -> None:
        """Hold the subscriptions while active and (lazy) while an output has a subscriber."""
        inputs, outputs = self._inputs, self._outputs
        if inputs is None or outputs is None:
            return
        wanted = self.state_label == 'active' and (not self._values['lazy']
                                                   or outputs.subscribed())
        try:
            if wanted and not inputs.subscribed:
                inputs.subscribe()
            elif not wanted and inputs.subscribed:
                self._stop_input()
        except Exception as error:
            if raise_errors:
                raise
            self.failure = failure_reason('subscribe', error)  # the spin loop ends the node

    def _stop_input(self) -> None:
        """Drop the subscriptions, let the frame in progress finish, clear the 3D markers."""
        if self._inputs is None or not self._inputs.subscribed:
            return
        self._inputs.unsubscribe()
        if not self._worker.drain():
            self.get_logger().warning('the frame in progress did not finish; the watchdog '
                                      'ends the node if the worker stays stuck')
        if self.state_label == 'active' and self._outputs is not None:
            self._step.clear_markers(self._outputs, Header(stamp=self.get_clock().now().to_msg()))

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        context = self._context
        result, values, config = decide_change(
            parameters, self._values, self.get_fully_qualified_name(),
            context.pipeline.num_classes if context is not None else None,
            context.config if context is not None else None)
        if not result.successful:
            return result
        threshold_changed = values['conf_threshold'] != self._values['conf_threshold']
        self._values = values
        if context is not None and self._context is context:
            self._context = dataclasses.replace(context, config=config)  # the next frame's
        if threshold_changed:
            self._label_info_due.trigger()
        return result

    def _publish_label_info(self) -> None:
        context, outputs = self._context, self._outputs
        if context is not None and outputs is not None and outputs.label_info is not None:
            outputs.label_info.publish(label_info_msg(
                context.pipeline.class_names, self._values['conf_threshold'],
                Header(stamp=self.get_clock().now().to_msg())))

    def check_worker(self) -> Optional[str]:
        """Return why the node cannot go on (a failed subscription, a dead or stalled worker)."""
        backend_check = getattr(self._pipeline and self._pipeline.backend, 'check', None)
        return self.failure or self._worker.problem() or (backend_check and backend_check())

    def fail(self, reason: str) -> None:
        """Publish an ERROR diagnostics status with the reason the node is going to exit."""
        self.failure = reason
        self._publish_diagnostics()

    def _idle_reason(self) -> Optional[str]:
        return idle_reason(self.state_label, self._inputs is not None and self._inputs.subscribed,
                           self.last_error)

    def _publish_diagnostics(self) -> None:
        context = self._context
        values, hardware_id = status_values(
            self.state_label, self._values, context, self._inputs is not None
            and self._inputs.subscribed, self._step.active_tracks)
        self._diagnostics_pub.publish(diagnostics_msg(
            self._stats.snapshot(), f'{self.get_fully_qualified_name()}: segmentation',
            hardware_id, values, self.get_clock().now().to_msg(),
            error=self.failure or self.check_worker(), idle=self._idle_reason()))

    def _log_summary(self) -> None:
        if self._idle_reason() is None:  # idle on purpose: nothing new to say
            self.get_logger().info(self._stats.snapshot().summary())

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the worker after its current frame (at most timeout_s), then the backend."""
        self._worker.stop(timeout_s)
        if self._pipeline is not None:
            self._pipeline.close()


def main(args: Optional[list[str]] = None,
         backend_factory: BackendFactory = create_backend) -> int:
    """
    Run the node until SIGINT/SIGTERM or the lifecycle shutdown transition.

    Returns 1 when it cannot start (autostart) or its worker fails, else 0.
    """
    stop = StopRequest()  # before anything slow, so an early signal is a clean stop too
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    logger = rclpy.logging.get_logger(NODE_NAME)
    try:
        node = SegmentationNode(backend_factory, sys.argv if args is None else args)
        if node.get_parameter('autostart').value and not node.autostart():
            reason = node.last_error or f'autostart ended in {node.state_label}'
            node.stop(timeout_s=1.0)
            node.destroy_node()
            raise StartupError(reason)
    except StartupError as error:
        logger.fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    return spin(node, stop, logger)


if __name__ == '__main__':
    raise SystemExit(main())
