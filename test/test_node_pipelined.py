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
The node with `inference_process: true` over DDS: the model in a child process.

Outputs identical to the in-process pipeline's, frame by frame and in order, on the BPU fakes
with scheduling parameters that reach the runtime; the child started at configure and stopped
at cleanup; SIGINT and SIGTERM leave no process and no shared memory behind; a killed child
ends the node in one FATAL line with exit code 1.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import signal
import time

from diagnostic_msgs.msg import DiagnosticStatus
from helpers.bags import IMAGE
from helpers.fake_runtime import FAKES, write_fake_bin
from helpers.models import SHAPES_ONNX
from helpers.node_process import NodeClient, NodeProcess, SHAPES_NAMES
from helpers.ros_graph import Lifecycle, ros_graph
import pytest
from test_node_bags import replay_and_check, scenes, write_scene_bag
from test_node_behaviour import assert_one_fatal_line
from yolov8_seg_ros.inference_process import SHM_DIR, SHM_PREFIX
from yolov8_seg_ros.pipeline import SegmentationPipeline

PARAMS = {'model_path': str(SHAPES_ONNX), 'class_names_file': str(SHAPES_NAMES),
          'image_reliability': 'reliable', 'inference_process': True,
          'diagnostics_period': 0.2}
NAMES = ['square', 'circle', 'triangle', 'star']


def children(pid: int) -> list[int]:
    """Return the pids of a process's children, whichever of its threads started them."""
    found = []
    for task in Path(f'/proc/{pid}/task').glob('*'):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / 'children').read_text().split()]
    return found


def segments_of(pid: int) -> list[str]:
    """Return the shared-memory segments the inference process of node pid made."""
    return sorted(p.name for p in SHM_DIR.glob(f'{SHM_PREFIX}{pid}_*'))


def inference_pid(client: NodeClient) -> int:
    """Wait for a diagnostics status that names the inference process; return its pid."""
    def named() -> bool:
        return bool(client.diagnostics) and client.values_of(
            client.diagnostics[-1]).get('inference_process', '').startswith('pid ')
    assert client.graph.spin_until(named, 20.0), client.diagnostics[-1:]
    return int(client.values_of(client.diagnostics[-1])['inference_process'].split()[1])


@pytest.mark.parametrize('backend, layout', [('hbm_runtime', 'float32'),
                                             ('hobot_dnn', 'int32')])
def test_pipelined_outputs_equal_the_in_process_pipeline_on_the_bpu_fakes(
        tmp_path, bpu_backends, backend, layout):
    model = write_fake_bin(SHAPES_ONNX, tmp_path / f'shapes_{layout}.bin', layout)
    pipeline = SegmentationPipeline(bpu_backends[backend](model), 'letterbox', NAMES)
    frames = scenes((640, 480))
    bag = write_scene_bag(tmp_path / 'bag', frames, 'nv12')
    cores = [0] if backend == 'hobot_dnn' else [-1]
    node = NodeProcess(f'/piped_{backend}', {**PARAMS, 'model_path': str(model),
                                             'backend': backend, 'bpu_priority': 200,
                                             'bpu_cores': cores},
                       extra_pythonpath=FAKES)
    try:
        with ros_graph(f'piped_{backend}_player') as graph:
            replay_and_check(graph, node, bag, frames, 'raw', pipeline)
            client = NodeClient(graph, node, 'image_raw', IMAGE, masks=False)
            values = client.wait_counter('frames_processed', len(frames))
            child = inference_pid(client)
        assert values['bpu_priority'] == '200', values
        assert child in children(node.process.pid)
        received = int(values['frames_received'])
        assert received == sum(int(values[f'frames_{kind}']) for kind in
                               ('processed', 'dropped', 'bad', 'failed'))
        assert node.stop(signal.SIGTERM) == 0
        assert not Path(f'/proc/{child}').exists() and not segments_of(node.process.pid)
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_the_child_lives_from_configure_to_cleanup_and_sigint_leaves_nothing():
    node = NodeProcess('/piped_cycle', {**PARAMS, 'autostart': False})
    try:
        with ros_graph('piped_cycle_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE, masks=False)
            lifecycle = Lifecycle(graph, node.fqn)
            assert children(node.process.pid) == []
            assert lifecycle.change(label='configure') is True
            first = inference_pid(client)
            assert first in children(node.process.pid)
            assert segments_of(node.process.pid)
            assert lifecycle.change(label='cleanup') is True
            deadline = time.monotonic() + 10.0
            while Path(f'/proc/{first}').exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not Path(f'/proc/{first}').exists()  # stopped and reaped: no zombie
            assert not segments_of(node.process.pid)
            assert lifecycle.change(label='configure') is True
            assert lifecycle.change(label='activate') is True
            client.wait_ready()
            second = inference_pid(client)
            assert second != first and second in children(node.process.pid)
        assert node.stop(signal.SIGINT) == 0
        assert not Path(f'/proc/{second}').exists() and not segments_of(node.process.pid)
        assert not node.leftover_processes()
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_a_killed_inference_process_ends_the_node_in_one_fatal_line():
    node = NodeProcess('/piped_killed', PARAMS)
    try:
        with ros_graph('piped_killed_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE, masks=False)
            client.wait_ready()
            child = inference_pid(client)
            os.kill(child, signal.SIGKILL)

            def errors() -> list:
                return [d.status[0] for d in client.diagnostics
                        if d.status[0].level == DiagnosticStatus.ERROR]
            assert graph.spin_until(lambda: bool(errors()), 10.0)
            error = errors()[0]
            assert 'killed by SIGKILL' in error.message, error.message
        assert_one_fatal_line(node, 'stopping: inference process')
        assert not node.leftover_processes()
        assert not segments_of(node.process.pid)
    finally:
        node.close()


def test_a_model_that_cannot_load_in_the_child_is_the_one_fatal_line(tmp_path):
    missing = tmp_path / 'missing.onnx'
    node = NodeProcess('/piped_missing', {**PARAMS, 'model_path': str(missing)})
    try:
        assert_one_fatal_line(node, f"model file '{missing}' does not exist")
        assert not node.leftover_processes()
    finally:
        node.close()
