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
The installed node as a real process, fed recorded bags over DDS.

Checks outputs, headers, accuracy against the scenes' ground truth, parity with the in-process
pipeline, and both BPU runtimes (hobot_dnn, hbm_runtime) through their fakes.
"""

from __future__ import annotations

from pathlib import Path
import signal

from helpers.bags import (BagMessage, COMPRESSED, HBM, hbm_from_bgr, IMAGE, image_array,
                          image_from_bgr, read_bag, stamp_from, stamp_of, typestore, write_bag)
from helpers.fake_runtime import FAKES, write_fake_bin
from helpers.models import SHAPES_ONNX, SHAPES_YOLO11_ONNX, ultralytics_asset
from helpers.node_process import NodeClient, NodeProcess, SHAPES_NAMES
from helpers.ros_graph import ros_graph
from helpers.shapes_dataset import generate_scene, SHAPE_CLASS_NAMES, ShapeScene
from helpers.shapes_sequences import generate_sequence
from helpers.tracking_eval import detect, score_tracking
import numpy as np
import pytest
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.image_conversion import from_compressed, from_hbm, from_image
from yolov8_seg_ros.parameters import default_values, runtime_config
from yolov8_seg_ros.pipeline import SegmentationPipeline
from yolov8_seg_ros.tracking import box_iou_matrix, ByteTracker

SHAPES_PARAMS = {'model_path': str(SHAPES_ONNX), 'class_names_file': str(SHAPES_NAMES)}
TOPICS = {'raw': ('image_raw', IMAGE), 'compressed': ('image', COMPRESSED),
          'hbmem': ('hbmem_img', HBM)}


def scenes(size_wh: tuple[int, int], count: int = 6) -> list[ShapeScene]:
    """Shapes scenes the test model was trained for, then ultralytics' two sample photos."""
    rng = np.random.default_rng(2000)
    frames = [generate_scene(rng, *size_wh, num_shapes=(2, 4), radius_range=(0.09, 0.16))
              for _ in range(count)]
    for photo in ('bus.jpg', 'zidane.jpg'):
        bgr = ultralytics_asset(photo)
        frames.append(ShapeScene(np.ascontiguousarray(bgr[:size_wh[1], :size_wh[0]]), ()))
    return frames


def frame_stamps(frames) -> list[tuple[int, int]]:
    """(sec, nanosec) of each frame: a sequence's own timestamps, else stamp_of(index)."""
    stamps = []
    for index, frame in enumerate(frames):
        stamp_s = getattr(frame, 'stamp_s', None)
        stamps.append(stamp_of(index) if stamp_s is None else
                      (int(stamp_s), int(round((stamp_s - int(stamp_s)) * 1e9))))
    return stamps


def write_scene_bag(path: Path, frames, encoding: str) -> Path:
    """One message per frame, stamped with frame_stamps, on the transport's topic."""
    store = typestore()
    messages = []
    for index, (scene, stamp) in enumerate(zip(frames, frame_stamps(frames))):
        if encoding == 'hbmem':
            msg, (topic, msgtype) = (hbm_from_bgr(store, scene.image_bgr, stamp, index),
                                     TOPICS['hbmem'])
        else:
            msg = image_from_bgr(store, scene.image_bgr, encoding, stamp)
            topic, msgtype = TOPICS['compressed' if encoding == 'jpeg' else 'raw']
        messages.append(BagMessage(topic, msgtype, msg, 1_000_000 * index))
    return write_bag(path, messages)


def recorded_scenes(folder: Path, encoding: str, count: int) -> list:
    """Return the first count shapes scenes as recorded frames (raw CDR), stamped stamp_of(k)."""
    return list(read_bag(write_scene_bag(folder, scenes((640, 480), count=count)[:count],
                                         encoding)))


def detection_boxes(msg) -> np.ndarray:
    """(N, 4) xyxy boxes of a Detection2DArray."""
    return np.array([[d.bbox.center.position.x - d.bbox.size_x / 2,
                      d.bbox.center.position.y - d.bbox.size_y / 2,
                      d.bbox.center.position.x + d.bbox.size_x / 2,
                      d.bbox.center.position.y + d.bbox.size_y / 2]
                     for d in msg.detections]).reshape(-1, 4)


def same_header(a, b) -> bool:
    """Stamp and frame_id equal."""
    return (stamp_from(a), a.frame_id) == (stamp_from(b), b.frame_id)


def check_frame(detections, mask, expected, expected_ids, scene: ShapeScene
                ) -> tuple[int, list]:
    """
    Assert one frame's outputs against the in-process pipeline and the mask contract.

    Detection k has mask value k + 1 and the in-process pipeline's track id (empty when it has
    none); no id appears twice in one message. Returns (ground-truth instances matched with
    IoU >= 0.8, their mask IoUs).
    """
    boxes = detection_boxes(detections)
    assert len(detections.detections) == len(expected), (len(detections.detections), expected)
    np.testing.assert_allclose(boxes, expected.boxes_xyxy, atol=0.01)
    classes = [d.results[0].hypothesis.class_id for d in detections.detections]
    assert classes == [str(c) for c in expected.class_ids]  # class_id_format: id (default)
    np.testing.assert_allclose([d.results[0].hypothesis.score for d in detections.detections],
                               expected.scores, atol=1e-5)
    labels = image_array(mask)
    assert labels.shape == (scene.image_bgr.shape[0], scene.image_bgr.shape[1])
    track_ids = [d.id for d in detections.detections]
    assert track_ids == ['' if i is None else str(i) for i in expected_ids]
    assert len({i for i in track_ids if i}) == len([i for i in track_ids if i])
    ids = list(range(1, len(track_ids) + 1))  # mask values
    assert set(np.unique(labels)) - {0} <= set(ids)
    for det_id, box in zip(ids, boxes):
        ys, xs = np.nonzero(labels == det_id)
        if xs.size:
            assert xs.min() >= box[0] - 1 and xs.max() < box[2] + 1
            assert ys.min() >= box[1] - 1 and ys.max() < box[3] + 1
    matched, mask_ious = 0, []
    for instance in scene.instances:
        candidates = [(float(box_iou_matrix(instance.box_xyxy[None], box[None])[0, 0]), det_id)
                      for box, det_id, cls in zip(boxes, ids, expected.class_ids)
                      if cls == instance.class_id]
        best_iou, best_id = max(candidates, default=(0.0, 0))
        if best_iou >= 0.8:
            matched += 1
            predicted = labels == best_id
            mask_ious.append((predicted & instance.mask).sum() / (predicted | instance.mask).sum())
    return matched, mask_ious


def decode_recorded(recorded, store):
    """Return the SourceImage the node must have seen for a recorded message."""
    msg = store.deserialize_cdr(recorded.raw, recorded.msgtype)
    if recorded.msgtype == COMPRESSED:
        return from_compressed(msg)
    if recorded.msgtype == HBM:
        return from_hbm(msg)
    return from_image(msg)


def replay_and_check(graph, node, bag: Path, frames, transport: str, pipeline,
                     reliable_input: bool = True, min_recall: float = 0.9) -> list[list[str]]:
    """
    Replay the bag frame by frame and check every frame's outputs; GT recall >= min_recall.

    The in-process pipeline runs the same frames in the same order with a fresh tracker, so
    its track ids must be the node's. Returns the Detection2D ids of every frame.
    """
    topic, msgtype = TOPICS[transport]
    client = NodeClient(graph, node, topic, msgtype, reliable_input=reliable_input)
    client.wait_ready()
    store = typestore()
    config = runtime_config(default_values())
    pipeline.tracker = ByteTracker()  # the node under test starts with a fresh one too
    stamps = frame_stamps(frames)
    matched, total, mask_ious, received_ids = 0, 0, [], []
    for index, recorded in enumerate(read_bag(bag)):
        detections = client.send_and_wait(recorded)
        assert graph.spin_until(lambda d=detections: any(same_header(m.header, d.header)
                                                         for m in client.masks), 10.0)
        mask = next(m for m in client.masks if same_header(m.header, detections.header))
        assert stamp_from(detections.header) == stamps[index]
        expected_frame_id = 'default_cam' if transport == 'hbmem' else 'camera'
        assert detections.header.frame_id == expected_frame_id
        expected = pipeline.run(decode_recorded(recorded, store), config, False,
                                stamps[index][0] + stamps[index][1] * 1e-9)
        got, ious = check_frame(detections, mask, expected.result, expected.track_ids,
                                frames[index])
        received_ids.append([d.id for d in detections.detections])
        matched += got
        total += len(frames[index].instances)
        mask_ious += ious
    assert len(client.detections) == len(frames)
    assert total >= 12 and matched / total >= min_recall, (matched, total)
    assert np.mean(mask_ious) >= 0.7, mask_ious
    values = client.wait_counter('frames_processed', len(frames))
    assert values['frames_bad'] == '0' and values['frames_failed'] == '0'
    return received_ids


@pytest.fixture(scope='module')
def ort_pipeline():
    return SegmentationPipeline(create_backend('onnxruntime', str(SHAPES_ONNX)), 'letterbox',
                                list(SHAPE_CLASS_NAMES))


@pytest.mark.parametrize('encoding, size_wh, reliability', [
    ('nv12', (1280, 720), 'reliable'),
    ('bgr8', (640, 480), 'reliable'),
    ('jpeg', (640, 480), 'best_effort'),  # a best-effort subscriber hears a reliable publisher
])
def test_bag_replay_onnxruntime(tmp_path, ort_pipeline, encoding, size_wh, reliability):
    frames = scenes(size_wh)
    bag = write_scene_bag(tmp_path / 'bag', frames, encoding)
    transport = 'compressed' if encoding == 'jpeg' else 'raw'
    node = NodeProcess(f'/bag_{encoding}', {**SHAPES_PARAMS, 'input_transport': transport,
                                            'image_reliability': reliability})
    try:
        with ros_graph(f'bag_{encoding}_player') as graph:
            replay_and_check(graph, node, bag, frames, transport, ort_pipeline)
        assert node.stop(signal.SIGTERM) == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()


@pytest.mark.parametrize('backend, layout, transport', [
    ('hobot_dnn', 'int32', 'raw'),
    ('hobot_dnn', 'float32', 'hbmem'),
    ('auto', 'int32', 'hbmem'),  # auto picks hbm_runtime where the image has it
    ('auto', 'float32', 'raw'),
])
def test_bag_replay_on_the_bpu_runtimes_through_the_fakes(tmp_path, fake_bins, bpu_backends,
                                                          backend, layout, transport):
    runtime = 'hbm_runtime' if backend == 'auto' else backend
    pipeline = SegmentationPipeline(bpu_backends[runtime](fake_bins[layout]), 'letterbox',
                                    list(SHAPE_CLASS_NAMES))
    frames = scenes((640, 480))
    bag = write_scene_bag(tmp_path / 'bag', frames, 'nv12' if transport == 'raw' else 'hbmem')
    name = f'bag_{backend}_{layout}_{transport}'
    node = NodeProcess(f'/{name}',
                       {'model_path': str(fake_bins[layout]),
                        'class_names_file': str(SHAPES_NAMES), 'backend': backend,
                        'input_transport': transport, 'image_reliability': 'reliable'},
                       extra_pythonpath=FAKES)
    try:
        with ros_graph(f'{name}_player') as graph:
            replay_and_check(graph, node, bag, frames, transport, pipeline)
            assert f'{runtime} {pipeline.backend.runtime_version} backend' in node.output()
        assert node.stop(signal.SIGINT) == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()


@pytest.mark.parametrize('backend', ['onnxruntime', 'hobot_dnn', 'hbm_runtime'])
def test_bag_replay_yolo11_seg(tmp_path, bpu_backends, backend):
    # The YOLO11-seg shapes model: ONNX Runtime, and its .bin through both runtimes' fakes
    # (the seed's int32 layout on pyeasy_dnn, the model zoo's float32 one on hbm_runtime).
    if backend == 'onnxruntime':
        model = SHAPES_YOLO11_ONNX
        loaded = create_backend(backend, str(model))
    else:
        layout = 'int32' if backend == 'hobot_dnn' else 'float32'
        model = write_fake_bin(SHAPES_YOLO11_ONNX, tmp_path / f'yolo11_{layout}.bin', layout)
        loaded = bpu_backends[backend](model)
    # The YOLO11 fixture is the weaker model (box mAP50 0.86 against 0.96 on the held-out
    # set): every frame still equals the in-process pipeline's.
    pipeline = SegmentationPipeline(loaded, 'letterbox', list(SHAPE_CLASS_NAMES))
    replay_model_bag(tmp_path, f'yolo11_{backend}', model, backend, pipeline, min_recall=0.8)


def replay_model_bag(tmp_path: Path, name: str, model: Path, backend: str,
                     pipeline: SegmentationPipeline, min_recall: float = 0.9) -> None:
    """
    Replay the shapes scenes (nv12) into a node running model on backend, frame by frame.

    Every frame is checked against the in-process pipeline (replay_and_check), the node names
    the pipeline's backend, and SIGINT ends it with exit 0 and no traceback.
    """
    loaded = pipeline.backend
    frames = scenes((640, 480))
    bag = write_scene_bag(tmp_path / 'bag', frames, 'nv12')
    node = NodeProcess(f'/bag_{name}',
                       {'model_path': str(model), 'class_names_file': str(SHAPES_NAMES),
                        'backend': backend, 'image_reliability': 'reliable'},
                       extra_pythonpath=FAKES)
    try:
        with ros_graph(f'bag_{name}_player') as graph:
            replay_and_check(graph, node, bag, frames, 'raw', pipeline, min_recall=min_recall)
            assert f'{loaded.name} {loaded.runtime_version} backend' in node.output()
        assert node.stop(signal.SIGINT) == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_bag_replay_of_a_moving_sequence_keeps_each_object_s_id(tmp_path, ort_pipeline):
    # Shapes moving, crossing and occluding at 30 fps, replayed over DDS with their own stamps.
    frames = generate_sequence(seed=11, num_frames=60)
    bag = write_scene_bag(tmp_path / 'bag', frames, 'bgr8')
    node = NodeProcess('/bag_tracking', {**SHAPES_PARAMS, 'image_reliability': 'reliable'})
    try:
        with ros_graph('bag_tracking_player') as graph:
            received = replay_and_check(graph, node, bag, frames, 'raw', ort_pipeline,
                                        min_recall=0.8)
        assert node.stop(signal.SIGINT) == 0
    finally:
        node.close()
    # The ids the node sent, scored against the ground-truth ids of the sequence.
    replies = iter(received)
    results = detect(str(SHAPES_ONNX), frames)
    scores = score_tracking([(frames, results)], lambda: lambda result, stamp: [
        int(i) if i else None for i in next(replies)])
    assert scores.gt_track_frames >= 200 and scores.switches_per_100 <= 1.0, scores
    assert scores.idf1 >= 0.9, scores
