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


"""config/seg.yaml, launch/seg.launch.py and setup.py agree with the node (no ROS needed)."""

import ast
from pathlib import Path
import re

from helpers.models import ROOT
import yaml
from yolov8_seg_ros.node import INPUT_TOPICS, NODE_NAME
from yolov8_seg_ros.parameters import PARAMETERS, SPECS

LAUNCH = ROOT / 'launch' / 'seg.launch.py'


def launch_constants() -> dict[str, object]:
    """Module-level constant assignments of the launch file."""
    tree = ast.parse(LAUNCH.read_text())
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.isupper()}


def test_seg_yaml_holds_exactly_the_declared_parameters_with_their_defaults():
    config = yaml.safe_load((ROOT / 'config' / 'seg.yaml').read_text())
    values = config['/**']['ros__parameters']
    assert list(values) == [spec.name for spec in PARAMETERS if spec.read_only] + \
        [spec.name for spec in PARAMETERS if not spec.read_only]
    for name, value in values.items():
        assert value == SPECS[name].default, name


def test_launch_file_names_match_setup_and_node():
    setup = (ROOT / 'setup.py').read_text()
    constants = launch_constants()
    assert re.search(r"PACKAGE_NAME = '(\w+)'", setup).group(1) == constants['PACKAGE']
    scripts = re.findall(r"'(\S+) = \{PACKAGE_NAME\}\.node:main'", setup.replace("f'", "'"))
    assert scripts == [constants['EXECUTABLE']]
    assert constants['NODE_NAME'] == NODE_NAME
    assert constants['INPUT_TOPICS'] == INPUT_TOPICS
    text = LAUNCH.read_text()
    for argument in ('model_path', 'image_topic', 'input_transport', 'namespace',
                     'params_file', 'backend', 'use_rviz'):
        assert f"DeclareLaunchArgument('{argument}'" in text, argument


def test_rviz_config_shows_overlay_and_mask():
    rviz = yaml.safe_load((ROOT / 'rviz' / 'yolov8_seg.rviz').read_text())
    topics = {d['Topic']['Value'] for d in rviz['Visualization Manager']['Displays']}
    assert topics == {f'/{NODE_NAME}/overlay', f'/{NODE_NAME}/mask'}


def test_installed_share_has_launch_config_and_rviz():
    share = ROOT / 'ws' / 'install' / 'yolov8_seg_ros' / 'share' / 'yolov8_seg_ros'
    for relative in ('launch/seg.launch.py', 'config/seg.yaml', 'config/coco80_class_names.txt',
                     'rviz/yolov8_seg.rviz'):
        assert Path(share, relative).is_file(), relative
    assert len((share / 'config' / 'coco80_class_names.txt').read_text().split('\n')) == 81
