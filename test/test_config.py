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

import os
from pathlib import Path
import re
import subprocess
import sys

from helpers.models import ROOT
import pytest
import yaml
from yolov8_seg_ros.launch_support import (Camera, camera_overrides, CameraListError,
                                           cameras_from, input_remappings,
                                           PARAMETER_ARGUMENTS, parameter_overrides,
                                           rviz_config_for)
from yolov8_seg_ros.names import EXECUTABLE, INPUT_TOPICS, NODE_NAME, PACKAGE_NAME
from yolov8_seg_ros.parameters import PARAMETERS, SPECS

LAUNCH = ROOT / 'launch' / 'seg.launch.py'


def test_seg_yaml_holds_exactly_the_declared_parameters_with_their_defaults():
    config = yaml.safe_load((ROOT / 'config' / 'seg.yaml').read_text())
    values = config['/**']['ros__parameters']
    # Grouped by when a value takes effect: startup, the next configure, now.
    assert list(values) == [spec.name for applies in ('startup', 'configure', 'now')
                            for spec in PARAMETERS if spec.applies == applies]
    for name, value in values.items():
        assert value == SPECS[name].default, name


def test_launch_file_uses_the_package_names_and_declares_every_argument():
    setup = (ROOT / 'setup.py').read_text()
    assert re.search(r"PACKAGE_NAME = '(\w+)'", setup).group(1) == PACKAGE_NAME
    scripts = re.findall(r"'(\S+) = \{PACKAGE_NAME\}\.node:main'", setup.replace("f'", "'"))
    assert scripts == [EXECUTABLE]
    text = LAUNCH.read_text()
    assert 'from yolov8_seg_ros.names import EXECUTABLE, INPUT_TOPICS, NODE_NAME, PACKAGE_NAME' \
        in text
    for argument in ('model_path', 'image_topic', 'input_transport', 'namespace',
                     'params_file', 'backend', 'class_names_file', 'depth_topic',
                     'depth_camera_info_topic', 'use_rviz'):
        assert f"DeclareLaunchArgument('{argument}'" in text, argument
    assert set(PARAMETER_ARGUMENTS) <= set(SPECS)


def test_launch_overrides_only_the_arguments_the_user_gave():
    defaults = {'model_path': '', 'input_transport': '', 'backend': '', 'class_names_file': '',
                'namespace': '', 'image_topic': '', 'use_rviz': 'false'}
    assert parameter_overrides(defaults) == {}
    given = {**defaults, 'input_transport': 'compressed', 'class_names_file': '/n.txt'}
    assert parameter_overrides(given) == {'input_transport': 'compressed',
                                          'class_names_file': '/n.txt'}
    assert input_remappings('') == []
    assert sorted(input_remappings('/cam/jpeg')) == sorted(
        (topic, '/cam/jpeg') for topic in INPUT_TOPICS.values())


def test_rviz_template_is_relative_and_launch_makes_it_absolute_in_the_namespace():
    template = ROOT / 'rviz' / 'yolov8_seg.rviz'
    rviz = yaml.safe_load(template.read_text())
    topics = {d['Topic']['Value'] for d in rviz['Visualization Manager']['Displays']}
    shown = ('overlay', 'mask', 'markers', 'points')
    assert topics == {f'{NODE_NAME}/{name}' for name in shown}
    for namespace, prefix in (('', ''), ('cam0', '/cam0'), ('/robot/cam1/', '/robot/cam1')):
        config = rviz_config_for(template, namespace)
        try:
            generated = yaml.safe_load(config.read_text())
        finally:
            config.unlink()
        topics = {d['Topic']['Value'] for d in generated['Visualization Manager']['Displays']}
        assert topics == {f'{prefix}/{NODE_NAME}/{name}' for name in shown}


def test_installed_share_has_launch_config_and_rviz():
    from ament_index_python.packages import get_package_share_directory
    share = Path(get_package_share_directory(PACKAGE_NAME))
    for relative in ('launch/seg.launch.py', 'config/seg.yaml', 'config/coco80_class_names.txt',
                     'rviz/yolov8_seg.rviz'):
        assert Path(share, relative).is_file(), relative
    assert len((share / 'config' / 'coco80_class_names.txt').read_text().split('\n')) == 81


def test_missing_launch_ros_skips_only_the_launch_tests(tmp_path):
    # launch_testing's plugin stays loaded; launch_ros cannot be imported.
    blocked = tmp_path / 'launch_ros'
    blocked.mkdir()
    (blocked / '__init__.py').write_text("raise ImportError('launch_ros blocked for this test')\n")
    inherited = {k: v for k, v in os.environ.items() if k != 'PYTEST_ADDOPTS'}
    env = {**inherited, 'PYTHONPATH': os.pathsep.join(filter(None, [
        str(tmp_path), os.environ.get('PYTHONPATH')]))}
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-rs',
         str(ROOT / 'test' / 'test_seg_launch.py'), str(ROOT / 'test' / 'test_launch_cli.py'),
         str(ROOT / 'test' / 'test_config.py'), '-k',
         'not missing_launch_ros and cameras_become_one_node'],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert 'passed' in summary and '2 skipped' in summary, result.stdout
    assert 'SKIPPED [2]' in result.stdout, result.stdout
    assert 'launch_testing are not importable here' in result.stdout


def test_cameras_become_one_node_each_in_its_own_namespace(tmp_path):
    # No list: the one node of the single-camera arguments, as before.
    assert cameras_from('', '', '') == [Camera('/', '')]
    assert cameras_from('', 'robot', '/cam/image_raw') == [Camera('/robot', '/cam/image_raw')]
    # A comma list: namespaces (under `namespace`), each reading its relative input topic.
    assert cameras_from('front, rear', '', '') == [Camera('/front'), Camera('/rear')]
    assert cameras_from('front,rear', 'robot', 'color/image_raw') == [
        Camera('/robot/front', 'color/image_raw'), Camera('/robot/rear', 'color/image_raw')]
    # A YAML file: namespace, image topic, transport and depth per camera.
    listing = tmp_path / 'cameras.yaml'
    listing.write_text('cameras:\n'
                       '  - {namespace: left, image_topic: /stereo/left/image_rect}\n'
                       '  - {namespace: arm, input_transport: compressed,\n'
                       '     depth_topic: /arm/depth/image_raw}\n')
    left, arm = cameras_from(str(listing), '', '')
    assert left == Camera('/left', '/stereo/left/image_rect')
    assert arm == Camera('/arm', '', 'compressed', '/arm/depth/image_raw')
    shared = {'model_path': 'm.onnx', 'input_transport': 'raw', 'lazy': 'true'}
    assert camera_overrides(shared, arm) == {'model_path': 'm.onnx', 'lazy': True,
                                             'input_transport': 'compressed',
                                             'depth_topic': '/arm/depth/image_raw'}
    assert camera_overrides(shared, left)['input_transport'] == 'raw'


@pytest.mark.parametrize('cameras, image_topic, reason', [
    ('front,front', '', 'two cameras have the namespace /front'),
    ('front,rear', '/one/image_raw', 'two cameras have the image topic /one/image_raw'),
    ('front,2nd', '', "camera 2: namespace '2nd' is not a ROS name"),
    (' , ', '', 'names no camera'),
])
def test_camera_lists_that_cannot_work_are_refused_with_the_reason(cameras, image_topic,
                                                                   reason):
    with pytest.raises(CameraListError, match=reason):
        cameras_from(cameras, '', image_topic)


def test_cameras_never_share_an_absolute_depth_or_camera_info_topic(tmp_path):
    # Shared launch arguments: a relative depth topic resolves per camera; an absolute one is
    # one stream for every node and is refused, as an absolute image topic is.
    front, rear = cameras_from('front,rear', '', '', 'depth/image_rect_raw')
    assert (front.depth_topic, rear.depth_topic) == ('depth/image_rect_raw',) * 2
    with pytest.raises(CameraListError, match='two cameras have the depth topic /depth/image'):
        cameras_from('front,rear', '', '', '/depth/image')
    with pytest.raises(CameraListError,
                       match='two cameras have the depth camera info topic /depth/info'):
        cameras_from('front,rear', '', '', 'depth/image', '/depth/info')
    # A camera file: depth_camera_info_topic is a per-camera key, and entries that name the same
    # absolute depth topic are refused.
    listing = tmp_path / 'cameras.yaml'
    listing.write_text('cameras:\n'
                       '  - {namespace: a, depth_topic: /a/depth, '
                       'depth_camera_info_topic: /a/depth_info}\n'
                       '  - {namespace: b, depth_topic: /b/depth}\n')
    first, second = cameras_from(str(listing), '', '', '', '')
    assert camera_overrides({}, first) == {'depth_topic': '/a/depth',
                                           'depth_camera_info_topic': '/a/depth_info'}
    assert camera_overrides({}, second) == {'depth_topic': '/b/depth'}
    listing.write_text('cameras:\n  - {namespace: a, depth_topic: /same}\n'
                       '  - {namespace: b, depth_topic: /same}\n')
    with pytest.raises(CameraListError, match='two cameras have the depth topic /same'):
        cameras_from(str(listing), '', '')


def test_a_camera_file_with_unknown_keys_or_transports_is_refused(tmp_path):
    listing = tmp_path / 'cameras.yaml'
    listing.write_text('cameras:\n  - {namespace: a, topic: /x}\n')
    with pytest.raises(CameraListError, match=r"unknown key\(s\) \['topic'\]"):
        cameras_from(str(listing), '', '')
    listing.write_text('cameras:\n  - {namespace: a, input_transport: h264}\n')
    with pytest.raises(CameraListError, match="input_transport 'h264'"):
        cameras_from(str(listing), '', '')
    with pytest.raises(CameraListError, match=r'cameras file .*missing\.yaml'):
        cameras_from(str(tmp_path / 'missing.yaml'), '', '')


def test_bool_launch_arguments_become_bool_parameters():
    assert parameter_overrides({'autostart': 'False', 'lazy': 'true'}) == \
        {'autostart': False, 'lazy': True}
    with pytest.raises(ValueError, match='autostart:=maybe: expected true or false'):
        parameter_overrides({'autostart': 'maybe'})
