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
What rclpy's lifecycle node leaves to us: refusing an unavailable transition, failing loudly.

rclpy (Humble to Jazzy) ends the process on a change_state request for a transition the state
does not offer (ros2/rclpy#1209), and swallows an exception in a transition callback without a
word. guard_change_state answers the first with success false; failing_loudly turns the second
into one logged reason and a FAILURE.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from typing import Any, Callable, Optional

from lifecycle_msgs.srv import ChangeState
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from yolov8_seg_ros.parameters import StartupError
from yolov8_seg_ros.runtime import describe_error, KindThrottle

Transition = Callable[[Any, LifecycleState], TransitionCallbackReturn]


def offered_transitions(node: LifecycleNode) -> tuple[str, list[tuple[int, str]]]:
    """Return the current state's label and the (id, label) of each transition it offers."""
    machine = node._state_machine  # no public getter in rclpy (Humble to Jazzy)
    return (machine.current_state[1],
            [(description[0], description[1]) for description in machine.available_transitions])


def refusal(request: Any, state: str, offered: list[tuple[int, str]]) -> Optional[str]:
    """Return why a ChangeState request cannot run from state, or None when it can."""
    transition_id, label = request.transition.id, request.transition.label
    if any((label == name) if label else (transition_id == number) for number, name in offered):
        return None
    asked = f'{label!r}' if label else f'id {transition_id}'
    return (f'refusing lifecycle transition {asked}: not available in state {state} '
            f'(available: {", ".join(f"{name} ({number})" for number, name in offered)})')


def guard_change_state(node: LifecycleNode, warn: Callable[[str], None]) -> None:
    """Make change_state answer success false (with one warning) for an unavailable transition."""
    service = getattr(node, '_service_change_state', None)
    if service is None:  # enable_communication_interface=False: no service to guard
        return
    handle = service.callback

    def guarded(request: ChangeState.Request, response: ChangeState.Response) -> Any:
        problem = refusal(request, *offered_transitions(node))
        if problem is not None:
            warn(problem)
            response.success = False
            return response
        return handle(request, response)

    service.callback = guarded


def failing_loudly(name: str) -> Callable[[Transition], Transition]:
    """Wrap a transition callback: an exception becomes node.transition_failed(name, error)."""
    def wrap(callback: Transition) -> Transition:
        @functools.wraps(callback)
        def run(node: Any, state: LifecycleState) -> TransitionCallbackReturn:
            try:
                return callback(node, state)
            except Exception as error:  # rclpy would swallow it: log, release, FAILURE
                return node.transition_failed(name, error)
        return run
    return wrap


def failure_reason(name: str, error: Exception) -> str:
    """Return the one-line reason a transition failed."""
    if isinstance(error, StartupError):
        return f'{name} failed: {error}'
    return f'{name} failed: {describe_error(error)}'


class ThrottledLog:
    """Warnings and errors logged once per kind and period (runtime.KindThrottle)."""

    def __init__(self, logger: Any, throttle: KindThrottle) -> None:
        self._logger = logger
        self._throttle = throttle

    # rclpy fixes a logger call's severity per source line: each severity has its own line.
    def warning(self, message: str) -> None:
        """Log a warning unless one of its kind was logged within the period."""
        text = self._throttle.check(message)
        if text is not None:
            self._logger.warning(text)

    def error(self, message: str, details: str = '') -> None:
        """Log an error, with details such as a traceback, unless its kind was just logged."""
        text = self._throttle.check(message)
        if text is not None:
            self._logger.error(f'{text}\n{details}' if details else text)


class StopRequest:
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


def spin(node: Any, stop: StopRequest, logger: Any) -> int:
    """
    Spin until SIGINT/SIGTERM, the shutdown transition, or a failed worker; return the exit code.

    A failed worker (node.check_worker()) gets one FATAL line and an ERROR diagnostics status,
    then exit code 1; everything else exits 0.
    """
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    failure = None
    try:
        while not stop.requested.is_set() and failure is None and node.state_label != 'finalized':
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
