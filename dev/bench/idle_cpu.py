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
CPU of the node process while a 30 fps 1080p nv12 camera publishes: active, deactivated, lazy.

The node (the shapes ONNX model, real inference) and the camera (another process) run on
DDS; the node's user+sys time comes from /proc/<pid>/stat over each window. (a) active with a
detections subscriber, (b) deactivated through the lifecycle service, (c) active with lazy
true and no subscriber. Run alone: python dev/bench/idle_cpu.py; or in `make bench`.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'test'))

from helpers.models import SHAPES_ONNX  # noqa: E402, I100
from helpers.node_process import NodeClient, NodeProcess, RELIABLE, SHAPES_NAMES  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402

NAMESPACE = '/idle_bench'
CAMERA = Path(__file__).with_name('nv12_camera.py')


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc/<pid>/stat."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def cpu_percent(pid: int, graph, window_s: float) -> float:
    """Percent of one core the process used over window_s (the test graph keeps spinning)."""
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    graph.spin_until(lambda: False, window_s)
    return 100.0 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def change_state(graph, fqn: str, transition: int) -> None:
    client = graph.node.create_client(ChangeState, f'{fqn}/change_state')
    assert client.wait_for_service(timeout_sec=10.0), 'no lifecycle service'
    future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
    assert graph.spin_until(future.done, 30.0) and future.result().success, 'transition failed'
    graph.node.destroy_client(client)


def bench_idle_cpu(results: dict[str, float], window_s: float = 10.0) -> None:
    """Add the three CPU figures (percent of one core) and the idle/active ratios."""
    node = NodeProcess(NAMESPACE, {'model_path': SHAPES_ONNX, 'class_names_file': SHAPES_NAMES,
                                   'log_summary_period': 0.0})
    camera = subprocess.Popen([sys.executable, str(CAMERA), f'{NAMESPACE}/image_raw', '30'],
                              stdout=subprocess.PIPE, text=True)
    try:
        with ros_graph('idle_cpu_bench') as graph:
            client = NodeClient(graph, node, 'image_raw', 'sensor_msgs/msg/Image')
            client.wait_ready()  # (its publisher stays silent: the camera process publishes)
            client.wait_counter('frames_processed', 30, timeout_s=60.0)
            results['active_cpu_percent_30fps_1080p'] = active = cpu_percent(
                node.process.pid, graph, window_s)
            before = int(client.wait_counter('frames_processed', 0)['frames_processed'])
            change_state(graph, node.fqn, Transition.TRANSITION_DEACTIVATE)
            graph.spin_until(lambda: False, 2.0)
            results['idle_cpu_percent_deactivated'] = deactivated = cpu_percent(
                node.process.pid, graph, window_s)
            # Lazy: active again, and nobody subscribes to any output.
            assert client.set_parameters(lazy=True)[0].successful
            change_state(graph, node.fqn, Transition.TRANSITION_ACTIVATE)
            for subscription in list(graph.node.subscriptions):
                if subscription.msg_type is Detection2DArray or '/yolov8_seg/' in \
                        subscription.topic_name:
                    graph.node.destroy_subscription(subscription)
            graph.spin_until(lambda: False, 2.0)
            results['idle_cpu_percent_lazy'] = lazy = cpu_percent(node.process.pid, graph,
                                                                  window_s)
            processed = graph.collect(Detection2DArray, f'{node.fqn}/detections', RELIABLE)
            assert graph.spin_until(lambda: bool(processed), 10.0), 'lazy never came back'
            after = int(client.wait_counter('frames_processed', before + 1)['frames_processed'])
            assert after > before
        results['idle_vs_active_cpu_ratio_deactivated'] = deactivated / active
        results['idle_vs_active_cpu_ratio_lazy'] = lazy / active
    finally:
        camera.terminate()
        fps = camera.communicate(timeout=10)[0].strip()
        node.stop()
        node.close()
    results['idle_bench_camera_fps'] = float(fps.split()[-1]) if fps else 0.0


if __name__ == '__main__':
    figures: dict[str, float] = {}
    bench_idle_cpu(figures)
    for key, value in sorted(figures.items()):
        print(f'{key:<40} {value:10.3f}')
