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
The installed yolov8_seg node as a real process, and the test side of its interface.

Replaying recorded frames into it, setting its parameters, reading its diagnostics.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any, Optional

from diagnostic_msgs.msg import DiagnosticArray
from helpers.bags import message_class, RecordedMessage
from helpers.models import ROOT
from helpers.ros_graph import GraphHarness
from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import ListParameters, SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from vision_msgs.msg import Detection2DArray, LabelInfo
from yolov8_seg_ros.names import NODE_NAME, PACKAGE_NAME

CONFIG = ROOT / 'config' / 'seg.yaml'
SHAPES_NAMES = ROOT / 'config' / 'shapes_class_names.txt'
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# A params file that makes the image subscription reliable (replayed bags, test publishers).
RELIABLE_INPUT_PARAMS = '/**:\n  ros__parameters:\n    image_reliability: reliable\n'
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _arg(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_arg(v) for v in value) + ']'
    return str(value)


def installed_executable(name: str) -> Path:
    """Return a console script of this package, found through the ament index (as ros2 run)."""
    from ament_index_python.packages import get_package_prefix
    path = Path(get_package_prefix(PACKAGE_NAME), 'lib', PACKAGE_NAME, name)
    assert path.is_file(), f'{path} is missing: build the package (make setup / colcon build)'
    return path


class _ChildProcess:
    """A child process in its own session, its output in a temporary log."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command = command
        # Lives as long as this object (closed by close()), so no with-block.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            'w+', prefix='yolov8_seg_', suffix='.log')
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)

    def output(self) -> str:
        """Everything the process printed so far."""
        self._log.flush()
        return Path(self._log.name).read_text()

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        """Wait for the process to exit by itself; returns its exit code."""
        return self.process.wait(timeout=timeout_s)

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 15.0) -> int:
        """Send sig and wait; returns the exit code (the process is killed if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill_group()
                raise AssertionError(
                    f'{self.command[0]} did not stop on signal {sig}:\n{self.output()}') from None
        return self.process.returncode

    def signal_group(self, sig: int) -> None:
        """Send sig to the process and everything it started, as a terminal's Ctrl-C does."""
        os.killpg(self.process.pid, sig)

    def leftover_processes(self, timeout_s: float = 5.0) -> bool:
        """Return True when a process of this session outlives it (an orphan) by timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return False
            if time.monotonic() > deadline:
                return True
            time.sleep(0.1)

    def kill_group(self) -> None:
        """Kill the process and everything it started."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        """Kill whatever is left of the process and its children, and drop the log."""
        self.kill_group()
        self._log.close()


def _environment(extra_pythonpath: Optional[Path],
                 extra_env: Optional[dict[str, str]] = None) -> dict[str, str]:
    env = {**os.environ, **(extra_env or {})}
    if extra_pythonpath is not None:
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(extra_pythonpath),
                                                          env.get('PYTHONPATH')]))
    return env


class NodeProcess(_ChildProcess):
    """The installed yolov8_seg_node with config/seg.yaml and overrides, in a namespace."""

    def __init__(self, namespace: str, parameters: dict[str, Any],
                 extra_pythonpath: Optional[Path] = None,
                 executable: Optional[list[str]] = None,
                 extra_env: Optional[dict[str, str]] = None,
                 params_file: Optional[Path] = None) -> None:
        if executable is None:
            executable = [str(installed_executable('yolov8_seg_node'))]
        self.namespace = namespace
        self.fqn = f'{namespace}/{NODE_NAME}'
        command = [*executable, '--ros-args', '--params-file', str(CONFIG),
                   '-r', f'__ns:={namespace}']
        if params_file is not None:
            command += ['--params-file', str(params_file)]
        for name, value in parameters.items():
            command += ['-p', f'{name}:={_arg(value)}']
        super().__init__(command, _environment(extra_pythonpath, extra_env))


class LaunchProcess(_ChildProcess):
    """`ros2 launch yolov8_seg_ros seg.launch.py` with launch arguments, as a user runs it."""

    def __init__(self, arguments: dict[str, Any],
                 extra_pythonpath: Optional[Path] = None) -> None:
        self.namespace = '/' + str(arguments.get('namespace', '')).strip('/')
        self.fqn = f'{self.namespace.rstrip("/")}/{NODE_NAME}'
        ros2 = shutil.which('ros2')
        assert ros2, 'ros2 (ros2cli) is not on PATH'
        command = [ros2, 'launch', PACKAGE_NAME, 'seg.launch.py',
                   *(f'{name}:={_arg(value)}' for name, value in arguments.items())]
        super().__init__(command, _environment(extra_pythonpath))


class NodeClient:
    """A test node's view of one yolov8_seg node: its outputs, parameters and diagnostics."""

    def __init__(self, graph: GraphHarness, node: _ChildProcess, input_topic: str,
                 input_type: str, reliable_input: bool = True, depth: int = 10,
                 masks: bool = True) -> None:
        self.graph = graph
        self.node = node
        base = node.fqn
        self.detections: list[Detection2DArray] = graph.collect(
            Detection2DArray, f'{base}/detections', RELIABLE)
        # masks=False: no subscription to the instance mask (a full-size image per frame).
        self.masks: list[Any] = (graph.collect(message_class('sensor_msgs/msg/Image'),
                                               f'{base}/mask', RELIABLE) if masks else [])
        self.diagnostics: list[DiagnosticArray] = []
        graph.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                       RELIABLE)
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliable_input
                         else ReliabilityPolicy.BEST_EFFORT)
        self.publisher = graph.node.create_publisher(message_class(input_type),
                                                     f'{node.namespace}/{input_topic}', qos)
        self._set = graph.node.create_client(SetParameters, f'{base}/set_parameters')
        self._list = graph.node.create_client(ListParameters, f'{base}/list_parameters')

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        if msg.status and msg.status[0].name.startswith(f'{self.node.fqn}:'):
            self.diagnostics.append(msg)

    def wait_ready(self, timeout_s: float = 60.0) -> list[LabelInfo]:
        """Wait until the node runs (its latched label_info arrives); returns that message."""
        infos = self.graph.collect(LabelInfo, f'{self.node.fqn}/label_info', LATCHED)
        deadline = time.monotonic() + timeout_s
        while not infos and time.monotonic() < deadline:
            assert self.node.process.poll() is None, \
                f'node exited with {self.node.process.returncode}:\n{self.node.output()}'
            self.graph.spin_until(lambda: bool(infos), 0.5)
        assert infos, f'node not ready after {timeout_s} s:\n{self.node.output()}'
        assert self.graph.spin_until(lambda: self.publisher.get_subscription_count() > 0, 10.0), \
            'the node never subscribed to the input topic'
        # Our writer has matched the node's reader; give the node's side of the endpoint
        # discovery a moment too, or a best-effort first frame may go nowhere.
        self.graph.spin_until(lambda: False, 0.5)
        return infos

    def send(self, recorded: RecordedMessage) -> None:
        """Publish one recorded message's CDR bytes as they are."""
        self.publisher.publish(recorded.raw)

    def send_and_wait(self, recorded: RecordedMessage, timeout_s: float = 30.0) -> Any:
        """Publish one frame and wait for its Detection2DArray; returns it."""
        count = len(self.detections)
        self.send(recorded)
        assert self.graph.spin_until(lambda: len(self.detections) > count, timeout_s), \
            f'no detections within {timeout_s} s for a frame:\n{self.node.output()}'
        return self.detections[-1]

    @staticmethod
    def values_of(msg: DiagnosticArray) -> dict[str, str]:
        """Return the key/values of the node's diagnostic status."""
        return {kv.key: kv.value for kv in msg.status[0].values}

    def wait_counter(self, key: str, at_least: int, timeout_s: float = 20.0) -> dict[str, str]:
        """Wait for a diagnostics message whose counter key is >= at_least; returns it."""
        def reached() -> bool:
            return bool(self.diagnostics) and \
                int(self.values_of(self.diagnostics[-1])[key]) >= at_least
        if not self.graph.spin_until(reached, timeout_s):
            latest = self.values_of(self.diagnostics[-1]) if self.diagnostics else {}
            raise AssertionError(f'diagnostics {key} never reached {at_least}: {latest}\n'
                                 f'{self.node.output()}')
        return self.values_of(self.diagnostics[-1])

    def set_parameters(self, **values: Any) -> list[SetParametersResult]:
        """Call the node's set_parameters service; returns one result per parameter."""
        self.graph.wait_for_service(self._set, 10.0)
        request = SetParameters.Request()
        request.parameters = [Parameter(name, value=value).to_parameter_msg()
                              for name, value in values.items()]
        future = self._set.call_async(request)
        assert self.graph.spin_until(future.done, 10.0), 'set_parameters did not answer'
        return list(future.result().results)

    def parameter_names(self) -> set[str]:
        """Names of every parameter the node declared."""
        self.graph.wait_for_service(self._list, 10.0)
        future = self._list.call_async(ListParameters.Request())
        assert self.graph.spin_until(future.done, 10.0), 'list_parameters did not answer'
        return set(future.result().result.names)
