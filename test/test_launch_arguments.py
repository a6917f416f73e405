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
launch_testing: the launch file's own logic, seen from outside with the ros2 CLI and DDS.

A params file sets model_path, input_transport and image_reliability and the launch arguments
left at their defaults must not override them; image_topic remaps the input; namespace puts the
outputs under /<ns>/yolov8_seg/; class_names_file sets the class map. ros2 param and ros2 topic
(the real command-line tools) read and change the running node.
"""

from pathlib import Path
import tempfile
import unittest

from helpers.launch_stack import include_seg_launch, require_launch_stack, ros2_cli
from helpers.launch_stack import seg_config_text
import pytest

require_launch_stack()

from helpers.bags import COMPRESSED, message_class, read_bag  # noqa: E402, I100
from helpers.bags import stamp_from, stamp_of  # noqa: E402
from helpers.models import SHAPES_ONNX  # noqa: E402
from helpers.node_process import LATCHED, RELIABLE, SHAPES_NAMES  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from launch import LaunchDescription  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from test_node_bags import scenes, write_scene_bag  # noqa: E402
from vision_msgs.msg import Detection2DArray, LabelInfo  # noqa: E402
import yaml  # noqa: E402
from yolov8_seg_ros.names import DEPTH_OUTPUT_TOPICS, OUTPUT_TOPICS  # noqa: E402
from yolov8_seg_ros.names import sibling_camera_info  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix='seg_launch_args_'))
NAMESPACE = '/cam_args'
IMAGE_TOPIC = '/camera_args/jpeg'
DEPTH_TOPIC = '/camera_args/depth/image_rect_raw'
FQN = f'{NAMESPACE}/yolov8_seg'


@pytest.mark.launch_test
def generate_test_description():
    text = seg_config_text(('model_path: ""', f'model_path: "{SHAPES_ONNX}"'),
                           ('input_transport: raw', 'input_transport: compressed'),
                           ('backend: auto', 'backend: onnxruntime'),
                           ('image_reliability: best_effort', 'image_reliability: reliable'))
    # Only namespace, image_topic, class_names_file, depth_topic and params_file are given.
    return LaunchDescription([
        include_seg_launch(WORK / 'seg.yaml', text, model_path=None, input_transport=None,
                           namespace=NAMESPACE, image_topic=IMAGE_TOPIC,
                           depth_topic=DEPTH_TOPIC),
        launch_testing.actions.ReadyToTest(),
    ])


class TestLaunchArguments(unittest.TestCase):

    def test_image_topic_namespace_and_class_names_file(self):
        frames = scenes((640, 480), count=2)
        bag = write_scene_bag(WORK / 'bag', frames, 'jpeg')
        with ros_graph('launch_args_client') as graph:
            infos = graph.collect(LabelInfo, f'{FQN}/label_info', LATCHED)
            detections = graph.collect(Detection2DArray, f'{FQN}/detections', RELIABLE)
            publisher = graph.node.create_publisher(message_class(COMPRESSED), IMAGE_TOPIC,
                                                    RELIABLE)
            self.assertTrue(graph.spin_until(lambda: bool(infos), 60.0), 'node not ready')
            self.assertEqual([c.class_name for c in infos[0].class_map],
                             SHAPES_NAMES.read_text().split())
            self.assertTrue(graph.spin_until(lambda: publisher.get_subscription_count() > 0,
                                             10.0), f'nobody subscribes to {IMAGE_TOPIC}')
            graph.spin_until(lambda: False, 0.5)
            for index, recorded in enumerate(read_bag(bag)):
                publisher.publish(recorded.raw)
                self.assertTrue(graph.spin_until(lambda i=index: len(detections) > i, 30.0))
                self.assertEqual(stamp_from(detections[-1].header), stamp_of(index))
        topics = ros2_cli('topic', 'list', until=f'{FQN}/detections').split()
        for name in (*OUTPUT_TOPICS, *DEPTH_OUTPUT_TOPICS):
            self.assertIn(f'{FQN}/{name}', topics)
        self.assertIn(IMAGE_TOPIC, topics)
        # depth_topic: the depth image and the camera_info beside it (no depth here: 2D goes on).
        self.assertIn(DEPTH_TOPIC, topics)
        self.assertIn(sibling_camera_info(DEPTH_TOPIC), topics)
        self.assertNotIn(f'{NAMESPACE}/image', topics)

    def test_ros2_param_set_describe_and_dump(self):
        # Each ros2 CLI call costs seconds of start-up and discovery: one dump at the end reads
        # back every value (the params file's included).
        self.assertIn('Set parameter successful',
                      ros2_cli('param', 'set', FQN, 'conf_threshold', '0.5',
                               until='successful'))
        refused = ros2_cli('param', 'set', FQN, 'conf_threshold', '1.5', until='failed')
        self.assertIn('Setting parameter failed', refused)
        described = ros2_cli('param', 'describe', FQN, 'conf_threshold', 'model_path',
                             'autostart', until='Min value')
        conf_part, rest = described.split('Parameter name: model_path')
        model_part, autostart_part = rest.split('Parameter name: autostart')
        self.assertIn('Min value: 0.0', conf_part)
        self.assertIn('Max value: 1.0', conf_part)
        self.assertIn('takes effect at the next configure', model_part)
        self.assertIn('Read only: true', autostart_part)
        # model_path changes only while unconfigured; the reason says how to get there.
        refused = ros2_cli('param', 'set', FQN, 'model_path', '/tmp/other.onnx', until='failed')
        self.assertIn('model_path takes effect at configure', refused)
        # The disabling choices are spelled so that the CLI's YAML does not read a bool.
        for name in ('tracking', 'mask_output'):
            self.assertIn('Set parameter successful',
                          ros2_cli('param', 'set', FQN, name, 'none', until='successful'))
        dumped = yaml.safe_load(ros2_cli('param', 'dump', FQN, until='model_path'))
        values = dumped[FQN]['ros__parameters']
        # The params file's values stay where the launch arguments were left at their defaults.
        self.assertEqual((values['input_transport'], values['backend'], values['model_path']),
                         ('compressed', 'onnxruntime', str(SHAPES_ONNX)))
        self.assertEqual((values['depth_topic'], values['depth_camera_info_topic']),
                         (DEPTH_TOPIC, ''))
        self.assertEqual((values['conf_threshold'], values['tracking'], values['mask_output']),
                         (0.5, 'none', 'none'))


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
