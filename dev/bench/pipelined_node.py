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
The node serial against inference_process: true, over DDS, with the BPU emulated.

The backend returns recorded heads after a GIL-holding sleep of the BPU's time (10 ms:
YOLOv8n-seg, 40 ms: YOLOv8m-seg), so only the BPU's time is emulated and all the CPU work is
real. 1080p nv12 frames are published faster than the node takes them; the output rate, the
node's receive-to-published latency, and the CPU of the node with its inference process under
a 30 fps camera are measured for both modes in the same run.
Run alone: python dev/bench/pipelined_node.py [--bpu-ms 10 40]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'test'))
sys.path.insert(0, str(ROOT / 'dev' / 'bench'))

from helpers.bags import IMAGE, image_from_bgr, typestore  # noqa: E402, I100
from helpers.node_process import NodeClient, NodeProcess  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from helpers.shapes_dataset import generate_scene  # noqa: E402
from idle_cpu import cpu_seconds  # noqa: E402
import numpy as np  # noqa: E402

LAUNCHER = ROOT / 'dev' / 'bench' / 'recorded_outputs_node.py'
WIDTH, HEIGHT = 1920, 1080
RATE_HZ = 120.0  # the maximum-throughput phase: faster than either node takes 1080p


def nv12_frame(index: int) -> Any:
    """One 1080p nv12 sensor_msgs/Image (rosbags), stamped by index."""
    store = typestore()
    scene = generate_scene(np.random.default_rng(index), WIDTH, HEIGHT)
    msg = image_from_bgr(store, scene.image_bgr, 'nv12', (1000 + index, 0))
    return bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image'))


def start(name: str, heads: Path, bpu_ms: float, pipelined: bool) -> NodeProcess:
    parameters = {'model_path': str(heads), 'image_reliability': 'reliable',
                  'log_summary_period': 0.0, 'diagnostics_period': 0.5,
                  'inference_process': pipelined, 'mask_output': 'instance',
                  'class_names': [f'class{k}' for k in range(80)], 'tracking': 'none'}
    return NodeProcess(f'/{name}', parameters, executable=[sys.executable, str(LAUNCHER)],
                       extra_env={'YOLOV8_SEG_BENCH_HEADS': str(heads),
                                  'YOLOV8_SEG_BENCH_BPU_MS': str(bpu_ms)})


def node_cpu_seconds(node: NodeProcess, values: dict[str, str]) -> float:
    """CPU seconds of the node and of its inference process (a separate process)."""
    total = cpu_seconds(node.process.pid)
    pid = values.get('inference_process', 'off')
    if pid.startswith('pid '):
        total += cpu_seconds(int(pid.split()[1]))
    return total


def measure(heads: Path, bpu_ms: float, pipelined: bool, frames: list[bytes],
            window_s: float = 6.0, rate_hz: float = RATE_HZ) -> dict[str, float]:
    """Output fps with frames published at rate_hz, latency p50/p95, CPU % at 30 fps."""
    name = f'pipelined_bench_{int(bpu_ms)}_{"process" if pipelined else "serial"}'
    node = start(name, heads, bpu_ms, pipelined)
    try:
        with ros_graph(f'{name}_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE, depth=2, masks=False)
            client.wait_ready()
            figures = {}
            for phase, rate, seconds in (('max', rate_hz, window_s), ('cam30', 30.0, window_s)):
                client.detections.clear()
                values = client.wait_counter('frames_received', 0)
                cpu0, start_s = node_cpu_seconds(node, values), time.perf_counter()
                sent = 0
                while time.perf_counter() - start_s < seconds:
                    client.publisher.publish(frames[sent % len(frames)])
                    sent += 1
                    next_s = start_s + sent / rate
                    graph.spin_until(lambda n=next_s: time.perf_counter() >= n,
                                     max(0.0, next_s - time.perf_counter()))
                elapsed = time.perf_counter() - start_s
                received = len(client.detections)
                cpu = 100.0 * (node_cpu_seconds(node, values) - cpu0) / elapsed
                graph.spin_until(lambda: False, 1.0)
                values = client.values_of(client.diagnostics[-1])
                figures[phase] = {'fps': received / elapsed, 'cpu': cpu,
                                  'p50': float(values['total_ms_p50']),
                                  'p95': float(values['total_ms_p95'])}
        node.stop()
    finally:
        node.close()
    return figures


def bench_pipelined(results: dict[str, float], bpu_ms_list=(10.0, 40.0),
                    rate_hz: float = RATE_HZ) -> None:
    """Measure the serial and the pipelined node at each BPU time; ratios from this run."""
    from recorded_outputs_node import save_heads
    from run_bench import crafted_outputs, POSTPROCESS_CASES
    from yolov8_seg_ros.transform import ImageTransform
    size, mode, count, fraction = POSTPROCESS_CASES['1080p_n10']
    heads = ROOT / 'build' / 'bench' / 'heads_1080p_n10.npz'
    heads.parent.mkdir(parents=True, exist_ok=True)
    save_heads(heads, crafted_outputs(count, fraction,
                                      ImageTransform.create(mode, size, (640, 640))))
    frames = [nv12_frame(k) for k in range(4)]
    for bpu_ms in bpu_ms_list:
        serial = measure(heads, bpu_ms, False, frames, rate_hz=rate_hz)
        piped = measure(heads, bpu_ms, True, frames, rate_hz=rate_hz)
        key = f'fake_bpu_{int(bpu_ms)}ms_1080p_nv12'
        results[f'serial_fps_{key}'] = serial['max']['fps']
        results[f'pipelined_fps_{key}'] = piped['max']['fps']
        results[f'pipeline_throughput_ratio_{key}'] = piped['max']['fps'] / serial['max']['fps']
        for mode_name, figures in (('serial', serial), ('pipelined', piped)):
            results[f'{mode_name}_latency_ms_p50_{key}'] = figures['max']['p50']
            results[f'{mode_name}_latency_ms_p95_{key}'] = figures['max']['p95']
            results[f'{mode_name}_active_cpu_percent_30fps_1080p_bpu_{int(bpu_ms)}ms'] = \
                figures['cam30']['cpu']
        results[f'pipelined_vs_serial_cpu_ratio_30fps_1080p_bpu_{int(bpu_ms)}ms'] = \
            piped['cam30']['cpu'] / serial['cam30']['cpu']
        # The serial node may not keep up with 30 fps (it then drops frames and idles less
        # CPU): CPU per processed frame compares the work itself.
        per_frame = {name: 10.0 * figures['cam30']['cpu'] / max(figures['cam30']['fps'], 1e-9)
                     for name, figures in (('serial', serial), ('pipelined', piped))}
        results[f'serial_cpu_ms_per_frame_30fps_1080p_bpu_{int(bpu_ms)}ms'] = per_frame['serial']
        results[f'pipelined_cpu_ms_per_frame_30fps_1080p_bpu_{int(bpu_ms)}ms'] = \
            per_frame['pipelined']
        results[f'pipelined_vs_serial_cpu_per_frame_ratio_30fps_1080p_bpu_{int(bpu_ms)}ms'] = \
            per_frame['pipelined'] / per_frame['serial']
        results[f'serial_fps_30fps_camera_bpu_{int(bpu_ms)}ms'] = serial['cam30']['fps']
        results[f'pipelined_fps_30fps_camera_bpu_{int(bpu_ms)}ms'] = piped['cam30']['fps']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--bpu-ms', type=float, nargs='+', default=[10.0, 40.0])
    parser.add_argument('--rate-hz', type=float, default=RATE_HZ)
    args = parser.parse_args()
    results: dict[str, float] = {}
    bench_pipelined(results, args.bpu_ms, args.rate_hz)
    for name, value in results.items():
        print(f'{name:64s} {value:10.2f}')


if __name__ == '__main__':
    main()
