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
Node metrics over DDS: the node as a real process with a recorded-outputs backend.

Image publish -> Detection2DArray received, per frame, and the highest sustained output rate.

Baseline in the same run: the same frame through the in-process pipeline (conversion,
preprocess, postprocess, label image, message building) with no ROS, threads or DDS.
"""

from __future__ import annotations

from pathlib import Path
import sys
import time
from typing import Any, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'test'))

from helpers.bags import (CAMERA_INFO, camera_info, depth_image, HBM,  # noqa: E402, I100
                          hbm_from_bgr, IMAGE, image_from_bgr, message_class, stamp_of,
                          typestore)
from helpers.models import SHAPES_ONNX  # noqa: E402
from helpers.node_process import NodeClient, NodeProcess, RELIABLE, SHAPES_NAMES  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from helpers.shapes_dataset import generate_scene, SHAPE_CLASS_NAMES  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402
from recorded_outputs_node import RecordedOutputsBackend, ReplayedHeadsBackend  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from vision_msgs.msg import Detection3DArray  # noqa: E402
from yolov8_seg_ros.backends import create_backend  # noqa: E402
from yolov8_seg_ros.depth import Intrinsics  # noqa: E402
from yolov8_seg_ros.image_conversion import from_hbm, from_image  # noqa: E402
from yolov8_seg_ros.messages import detections_msg, label_image_msg  # noqa: E402
from yolov8_seg_ros.names import INPUT_TOPICS  # noqa: E402
from yolov8_seg_ros.parameters import default_values, runtime_config  # noqa: E402
from yolov8_seg_ros.pipeline import SegmentationPipeline  # noqa: E402

LAUNCHER = ROOT / 'dev' / 'bench' / 'recorded_outputs_node.py'


def frame_raw(size_wh: tuple[int, int], transport: str, encoding: str) -> bytes:
    """One shapes scene as serialized CDR bytes: sensor_msgs/Image or TROS HbmMsg1080P."""
    store = typestore()
    scene = generate_scene(np.random.default_rng(11), *size_wh, num_shapes=(5, 5),
                           radius_range=(0.06, 0.1))
    if transport == 'hbmem':
        return bytes(store.serialize_cdr(hbm_from_bgr(store, scene.image_bgr, stamp_of(0), 0),
                                         HBM))
    msg = image_from_bgr(store, scene.image_bgr, encoding, stamp_of(0))
    return bytes(store.serialize_cdr(msg, IMAGE))


def inprocess_ms(raw: bytes, transport: str, heads: Optional[Path], runs: int) -> float:
    """Median ms of the same frame through the pipeline in-process (inference replayed)."""
    if heads is not None:
        backend = ReplayedHeadsBackend(str(heads))
        names = [f'class{k}' for k in range(backend.layout.num_classes)]
    else:
        backend = RecordedOutputsBackend(create_backend('onnxruntime', str(SHAPES_ONNX)))
        names = list(SHAPE_CLASS_NAMES)
    pipeline = SegmentationPipeline(backend, 'letterbox', names)
    if transport == 'hbmem':
        msg = deserialize_message(raw, message_class(HBM))
        source = lambda: from_hbm(msg)  # noqa: E731
    else:
        msg = deserialize_message(raw, Image)
        source = lambda: from_image(msg)  # noqa: E731
    config = runtime_config(default_values())
    times = []  # the first (recording) run is among the 5 discarded
    for _ in range(runs + 5):
        start = time.perf_counter()
        result = pipeline.run(source(), config, False)
        detections_msg(result.result, Header(), pipeline.class_names, config.class_id_format)
        label_image_msg(result.labels, Header())
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times[5:]))


def depth_raw(size_wh: tuple[int, int]) -> tuple[bytes, bytes]:
    """Return CDR bytes of a 16UC1 depth image at half size (a noisy wall) and its camera info."""
    store = typestore()
    width, height = size_wh[0] // 2, size_wh[1] // 2
    rng = np.random.default_rng(5)
    millimetres = (2000 + 1000 * np.linspace(0, 1, width)[None, :]
                   + rng.normal(0, 20, (height, width))).astype(np.uint16)
    image = depth_image(store, millimetres, stamp_of(0), 'depth')
    camera = Intrinsics(width * 0.8, width * 0.8, width / 2, height / 2, width, height)
    info = camera_info(store, camera, stamp_of(0), 'depth')
    return (bytes(store.serialize_cdr(image, IMAGE)),
            bytes(store.serialize_cdr(info, CAMERA_INFO)))


def node_process(name: str, transport: str, heads: Optional[Path] = None,
                 **extra: str) -> NodeProcess:
    """Start the node as a process (recorded-outputs backend) at /name, reliable input."""
    parameters = {'model_path': str(SHAPES_ONNX), 'input_transport': transport,
                  'image_reliability': 'reliable', 'log_summary_period': 0.0,
                  'diagnostics_period': 0.5, **extra}
    if heads is None:
        parameters['class_names_file'] = str(SHAPES_NAMES)
    return NodeProcess(f'/{name}', parameters, executable=[sys.executable, str(LAUNCHER)],
                       extra_env={'YOLOV8_SEG_BENCH_HEADS': str(heads) if heads else ''})


def latency_ms(graph: Any, publisher: Any, raw: bytes, answers: list[Any]) -> float:
    """Publish one frame and wait for its answer: ms from publish to receipt."""
    answers.clear()
    start = time.perf_counter()
    publisher.publish(raw)
    assert graph.spin_until(lambda: len(answers) > 0, 10.0)
    return (time.perf_counter() - start) * 1000.0


def measure(size_wh: tuple[int, int], encoding: str, runs: int, transport: str = 'raw',
            heads: Optional[Path] = None) -> dict[str, float]:
    """Closed-loop latency percentiles and the free-running output rate for one frame kind."""
    raw = frame_raw(size_wh, transport, encoding)
    name = f'bench_{transport}_{encoding}_{size_wh[1]}{"_heads" if heads else ""}'
    node = node_process(name, transport, heads)
    input_type = HBM if transport == 'hbmem' else IMAGE
    try:
        with ros_graph(f'{name}_client') as graph:
            client = NodeClient(graph, node, INPUT_TOPICS[transport], input_type, depth=2)
            client.wait_ready()
            latencies = [latency_ms(graph, client.publisher, raw, client.detections)
                         for _ in range(runs + 5)][5:]
            values = client.wait_counter('frames_processed', runs + 5)
            inference_ms = float(values['inference_ms_p50'])
            # Free running: publish as fast as rclpy can, count outputs over a fixed time.
            graph.spin_until(lambda: False, 0.5)
            client.detections.clear()
            start = time.perf_counter()
            while time.perf_counter() - start < 3.0:
                client.publisher.publish(raw)
                graph.executor.spin_once(timeout_sec=0.0)
            elapsed = time.perf_counter() - start
            graph.spin_until(lambda: False, 0.3)
            received = len(client.detections)
        node.stop()
    finally:
        node.close()
    return {'p50': float(np.percentile(latencies, 50)) - inference_ms,
            'p95': float(np.percentile(latencies, 95)) - inference_ms,
            'fps': received / elapsed, 'inprocess': inprocess_ms(raw, transport, heads, runs)}


def measure_depth_pair(size_wh: tuple[int, int], runs: int) -> tuple[float, float]:
    """
    p50 latency less inference of the same nv12 frames without and with depth, side by side.

    Two nodes run at once, one with a depth image and camera info (half the colour size, paired
    by stamp): latency to its Detection3DArray (published after the 2D outputs), or without
    depth to the Detection2DArray. The frames alternate between the nodes, so that both see the
    same load on the machine; nobody subscribes to the instance masks, whose 2 MB a frame in
    flight delayed the 3D message by 0-10 ms from one session to the next.
    """
    raw = frame_raw(size_wh, 'raw', 'nv12')
    nodes = {False: node_process('bench_pair_2d', 'raw'),
             True: node_process('bench_pair_depth', 'raw', depth_topic='depth/image_rect_raw')}
    try:
        with ros_graph('bench_pair_client') as graph:
            clients = {depth: NodeClient(graph, node, INPUT_TOPICS['raw'], IMAGE, depth=2,
                                         masks=False)
                       for depth, node in nodes.items()}
            for client in clients.values():
                client.wait_ready()
            answers = {False: clients[False].detections,
                       True: graph.collect(Detection3DArray,
                                           f'{nodes[True].fqn}/detections_3d', RELIABLE)}
            for topic, kind, data in zip(('depth/image_rect_raw', 'depth/camera_info'),
                                         (Image, CameraInfo), depth_raw(size_wh)):
                publisher = graph.node.create_publisher(kind, f'{nodes[True].namespace}/{topic}',
                                                        RELIABLE)
                assert graph.spin_until(lambda p=publisher: p.get_subscription_count(), 10.0)
                graph.spin_until(lambda: False, 0.3)
                publisher.publish(data)  # every frame has this stamp: paired with it
            graph.spin_until(lambda: False, 0.5)
            latencies: dict[bool, list[float]] = {False: [], True: []}
            for index in range(runs + 5):
                for depth in ((False, True) if index % 2 else (True, False)):
                    latencies[depth].append(latency_ms(graph, clients[depth].publisher, raw,
                                                       answers[depth]))
            assert int(clients[True].wait_counter('frames_depth_paired', runs + 5)[
                'objects_3d']) > 0
            inference_ms = {depth: float(client.wait_counter('frames_processed', runs + 5)[
                'inference_ms_p50']) for depth, client in clients.items()}
        for node in nodes.values():
            node.stop()
    finally:
        for node in nodes.values():
            node.close()
    without, with_depth = (float(np.percentile(latencies[depth][5:], 50)) - inference_ms[depth]
                           for depth in (False, True))
    return without, with_depth


def bench_node(results: dict[str, float], runs: int, large_heads: Optional[Path] = None) -> None:
    """Add the node metrics to results; large_heads: saved n10_large heads for the large case."""
    hd = measure((1920, 1080), 'nv12', runs)
    results['node_overhead_ms_p50_1080p_nv12'] = hd['p50']
    results['node_overhead_ms_p95_1080p_nv12'] = hd['p95']
    results['node_max_fps_1080p_nv12'] = hd['fps']
    results['baseline_inprocess_pipeline_ms_1080p_nv12'] = hd['inprocess']
    results['node_overhead_vs_inprocess_ratio_1080p_nv12'] = hd['p50'] / hd['inprocess']
    # The same frames with a depth image (half size) paired: latency to the 3D message, against
    # the same node without depth, alive at the same time: the median of three sessions.
    sessions = sorted((measure_depth_pair((1920, 1080), runs) for _ in range(3)),
                      key=lambda pair: pair[1] / pair[0])
    without, with_depth = sessions[1]
    results['node_overhead_ms_p50_1080p_nv12_depth'] = with_depth
    results['node_overhead_ms_p50_1080p_nv12_beside_depth'] = without
    results['node_depth_vs_no_depth_ratio_1080p_nv12'] = with_depth / without
    if large_heads is not None:
        large = measure((1920, 1080), 'nv12', runs, heads=large_heads)
        results['node_overhead_ms_p50_1080p_nv12_large'] = large['p50']
        results['node_overhead_ms_p95_1080p_nv12_large'] = large['p95']
        results['baseline_inprocess_pipeline_ms_1080p_nv12_large'] = large['inprocess']
    vga = measure((640, 480), 'bgr8', runs)
    results['node_overhead_ms_p50_640x480_bgr8'] = vga['p50']
    results['baseline_inprocess_pipeline_ms_640x480_bgr8'] = vga['inprocess']
    results['node_overhead_vs_inprocess_ratio_640x480_bgr8'] = vga['p50'] / vga['inprocess']
    # The board's camera size through both transports: HbmMsg1080P always carries 6.2 MB.
    hbmem = measure((960, 544), 'nv12', runs, transport='hbmem')
    raw = measure((960, 544), 'nv12', runs, transport='raw')
    results['node_overhead_ms_p50_hbmem_960x544'] = hbmem['p50']
    results['node_overhead_ms_p50_raw_nv12_960x544'] = raw['p50']
    results['node_max_fps_hbmem_960x544'] = hbmem['fps']
    results['node_max_fps_raw_nv12_960x544'] = raw['fps']
    results['hbmem_vs_raw_nv12_overhead_ratio_960x544'] = hbmem['p50'] / raw['p50']
