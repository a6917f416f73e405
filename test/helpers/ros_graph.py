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

"""A private rclpy context and node for one test, and waiting for messages on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
import time
from typing import Any

from lifecycle_msgs.srv import ChangeState, GetState
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class GraphHarness:
    """A test's own ROS context, node and executor; spin it while waiting for conditions."""

    def __init__(self, name: str) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until condition() is true or the timeout passes; returns condition()."""
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def wait_for_service(self, client: Any, timeout_s: float) -> None:
        """Wait until the client's service is ready and the server can see the client."""
        if not client.service_is_ready():
            assert client.wait_for_service(timeout_sec=timeout_s), client.srv_name
            # The server is seen before it sees our response reader: a request sent at once
            # can have its answer lost on a loaded machine.
            self.spin_until(lambda: False, 0.5)

    def collect(self, msg_type: Any, topic: str, qos: Any = 10) -> list[Any]:
        """Subscribe and return the list that received messages are appended to."""
        received: list[Any] = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


class Lifecycle:
    """A lifecycle manager's view of one node: ChangeState and GetState over DDS."""

    def __init__(self, graph, fqn: str) -> None:
        self.graph = graph
        self._change = graph.node.create_client(ChangeState, f'{fqn}/change_state')
        self._get = graph.node.create_client(GetState, f'{fqn}/get_state')

    def _call(self, client, request):
        self.graph.wait_for_service(client, 20.0)
        future = client.call_async(request)
        assert self.graph.spin_until(future.done, 60.0), 'no answer'
        return future.result()

    def change(self, transition_id: int = 0, label: str = '') -> bool:
        request = ChangeState.Request()
        request.transition.id, request.transition.label = transition_id, label
        return self._call(self._change, request).success

    def state(self) -> str:
        return self._call(self._get, GetState.Request()).current_state.label


@contextlib.contextmanager
def ros_graph(name: str) -> Iterator[GraphHarness]:
    """Context manager around GraphHarness that always shuts the context down."""
    graph = GraphHarness(name)
    try:
        yield graph
    finally:
        graph.close()
