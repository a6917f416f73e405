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

from helpers.fake_runtime import write_fake_bin
from helpers.launch_stack import require_launch_stack
from helpers.models import SHAPES_YOLO26_ONNX
from helpers.node_process import LaunchProcess, RELIABLE_INPUT_PARAMS, SHAPES_NAMES
from helpers.ros_graph import ros_graph
from helpers.shapes_dataset import SHAPE_CLASS_NAMES
import pytest
from test_node_bags import replay_and_check, replay_model_bag, scenes, write_scene_bag
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.model_metadata import SUFFIX
from yolov8_seg_ros.pipeline import SegmentationPipeline


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
    # Every frame equal to the in-process pipeline's, the v8 bag tests' recall bar.
    replay_model_bag(tmp_path, f'yolo26_{backend}', model, backend, pipeline)


def test_ros2_launch_with_a_yolo26_model_gives_what_a_v8_model_gives(tmp_path):
    # As a user starts it: `ros2 launch yolov8_seg_ros seg.launch.py model_path:=...onnx`. The
    # metadata file beside the model makes the node decode by top-k; the outputs (detections,
    # track ids, instance mask) are checked frame by frame as for the v8 models.
    require_launch_stack()
    pipeline = SegmentationPipeline(create_backend('onnxruntime', str(SHAPES_YOLO26_ONNX)),
                                    'letterbox', list(SHAPE_CLASS_NAMES))
    frames = scenes((640, 480))
    bag = write_scene_bag(tmp_path / 'bag', frames, 'nv12')
    params = tmp_path / 'params.yaml'
    params.write_text(RELIABLE_INPUT_PARAMS)
    launch = LaunchProcess({'model_path': SHAPES_YOLO26_ONNX, 'namespace': 'y26',
                            'class_names_file': SHAPES_NAMES, 'params_file': params})
    try:
        with ros_graph('launch_yolo26_player') as graph:
            replay_and_check(graph, launch, bag, frames, 'raw', pipeline)
        assert launch.stop(signal.SIGINT) == 0, launch.output()
        assert 'Traceback' not in launch.output()
        assert not launch.leftover_processes(), launch.output()
    finally:
        launch.close()
