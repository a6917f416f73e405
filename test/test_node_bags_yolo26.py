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

"""The installed node with the YOLO26 shapes model (one2one, top-k), fed a bag over DDS."""

from __future__ import annotations

import shutil
import signal

from helpers.bags import IMAGE, read_bag, stamp_from, typestore
from helpers.fake_runtime import FAKES, write_fake_bin
from helpers.models import SHAPES_YOLO26_ONNX
from helpers.node_process import NodeClient, NodeProcess, SHAPES_NAMES
from helpers.ros_graph import ros_graph
from helpers.shapes_dataset import SHAPE_CLASS_NAMES
import pytest
from test_node_bags import (check_frame, decode_recorded, frame_stamps, same_header, scenes,
                            write_scene_bag)
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.model_metadata import SUFFIX
from yolov8_seg_ros.parameters import default_values, runtime_config
from yolov8_seg_ros.pipeline import SegmentationPipeline
from yolov8_seg_ros.tracking import ByteTracker


def replay_and_compare(graph, node, bag, frames, pipeline) -> int:
    """
    Replay the bag frame by frame: every frame's outputs equal the in-process pipeline's.

    As test_node_bags.replay_and_check, without its accuracy bars (the YOLO26 fixture is a
    weak model whose one2one head may give one shape two classes); returns the ground-truth
    shapes found (IoU >= 0.8, same class).
    """
    client = NodeClient(graph, node, 'image_raw', IMAGE, reliable_input=True)
    client.wait_ready()
    store = typestore()
    config = runtime_config(default_values())
    pipeline.tracker = ByteTracker()  # the node under test starts with a fresh one too
    stamps = frame_stamps(frames)
    matched = 0
    for index, recorded in enumerate(read_bag(bag)):
        detections = client.send_and_wait(recorded)
        assert graph.spin_until(lambda d=detections: any(same_header(m.header, d.header)
                                                         for m in client.masks), 10.0)
        mask = next(m for m in client.masks if same_header(m.header, detections.header))
        assert stamp_from(detections.header) == stamps[index]
        expected = pipeline.run(decode_recorded(recorded, store), config, False,
                                stamps[index][0] + stamps[index][1] * 1e-9)
        matched += check_frame(detections, mask, expected.result, expected.track_ids,
                               frames[index])[0]
    assert len(client.detections) == len(frames)
    values = client.wait_counter('frames_processed', len(frames))
    assert values['frames_bad'] == '0' and values['frames_failed'] == '0'
    return matched


@pytest.mark.parametrize('backend, layout', [
    ('onnxruntime', None),
    ('hobot_dnn', 'int32'),  # the seed's int32 layout on pyeasy_dnn
    ('auto', 'float32'),  # the model zoo's float32 layout; auto picks hbm_runtime
])
def test_bag_replay_yolo26_seg(tmp_path, bpu_backends, backend, layout):
    # The metadata file beside each model says one2one: the node decodes by top-k without
    # NMS, and every frame must equal the in-process pipeline's (which reads the same file).
    if layout is None:
        model = SHAPES_YOLO26_ONNX
        loaded = create_backend(backend, str(model))
    else:
        model = write_fake_bin(SHAPES_YOLO26_ONNX, tmp_path / f'yolo26_{layout}.bin', layout)
        shutil.copyfile(SHAPES_YOLO26_ONNX.with_name(SHAPES_YOLO26_ONNX.stem + SUFFIX),
                        model.with_name(model.stem + SUFFIX))
        loaded = bpu_backends['hbm_runtime' if backend == 'auto' else backend](model)
    pipeline = SegmentationPipeline(loaded, 'letterbox', list(SHAPE_CLASS_NAMES))
    assert pipeline.postprocessor.end2end and loaded.layout.reg_max == 1
    frames = scenes((640, 480))
    bag = write_scene_bag(tmp_path / 'bag', frames, 'nv12')
    node = NodeProcess(f'/bag_yolo26_{backend}',
                       {'model_path': str(model), 'class_names_file': str(SHAPES_NAMES),
                        'backend': backend, 'image_reliability': 'reliable'},
                       extra_pythonpath=FAKES)
    try:
        with ros_graph(f'bag_yolo26_{backend}_player') as graph:
            assert replay_and_compare(graph, node, bag, frames, pipeline) >= 3
            assert f'{loaded.name} {loaded.runtime_version} backend' in node.output()
        assert node.stop(signal.SIGINT) == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()
