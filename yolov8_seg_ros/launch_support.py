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
The launch file's logic as plain functions (no launch imports), so it is tested without launch.

Which launch arguments become parameter overrides, the cameras (one node each), the input
remappings, and the rviz2 config for one node's namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import re
import tempfile
from typing import Mapping

import yaml

from yolov8_seg_ros.names import INPUT_TOPICS, INPUT_TRANSPORTS, NODE_NAME

# Launch arguments that set the node parameter of the same name; empty keeps the params file's.
PARAMETER_ARGUMENTS = ('model_path', 'input_transport', 'backend', 'class_names_file',
                       'depth_topic', 'depth_camera_info_topic', 'autostart', 'lazy')
# Of those, the ones that are bools (launch arguments are text).
_BOOL_ARGUMENTS = ('autostart', 'lazy')
_CAMERA_KEYS = ('namespace', 'image_topic', 'input_transport', 'depth_topic',
                'depth_camera_info_topic')
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


class CameraListError(ValueError):
    """The cameras launch argument cannot be used; the message says why."""


@dataclass(frozen=True)
class Camera:
    """One node of a launch: its namespace and what it overrides of the shared arguments."""

    namespace: str  # absolute, '/' for the root
    image_topic: str = ''  # '' keeps the transport's relative default (in the namespace)
    input_transport: str = ''  # '' keeps the shared value
    depth_topic: str = ''  # '' keeps the shared value
    depth_camera_info_topic: str = ''  # '' keeps the shared value


def _join(namespace: str, name: str) -> str:
    parts = [p for p in (*namespace.split('/'), *name.split('/')) if p]
    return '/' + '/'.join(parts)


def cameras_from(cameras: str, namespace: str, image_topic: str, depth_topic: str = '',
                 depth_camera_info_topic: str = '') -> list[Camera]:
    """
    Return the nodes to start: one per camera of `cameras`, else one in namespace.

    cameras: '' (one node), 'front,rear' (one namespace each, under namespace), or a YAML file
    (`cameras:` a list of {namespace, image_topic, input_transport, depth_topic,
    depth_camera_info_topic}); the other arguments are the shared values. An absolute image,
    depth or camera info topic that two cameras would share is refused: they would all read
    one stream.
    """
    text = cameras.strip()
    if not text:
        return [Camera(_join(namespace, ''), image_topic, '', depth_topic,
                       depth_camera_info_topic)]
    if text.endswith(('.yaml', '.yml')):
        entries = _camera_file(Path(text))
    else:
        entries = [{'namespace': name.strip()} for name in text.split(',') if name.strip()]
    found = []
    for index, entry in enumerate(entries):
        name = str(entry.get('namespace', '')).strip('/')
        if not name or not all(_NAME.match(part) for part in name.split('/')):
            raise CameraListError(f'camera {index + 1}: namespace {name!r} is not a ROS name '
                                  '(letters, digits, _; not starting with a digit)')
        transport = str(entry.get('input_transport', '') or '')
        if transport and transport not in INPUT_TRANSPORTS:
            raise CameraListError(f'camera {name}: input_transport {transport!r}: expected one '
                                  f'of {INPUT_TRANSPORTS}')
        found.append(Camera(_join(namespace, name), str(entry.get('image_topic') or image_topic),
                            transport, str(entry.get('depth_topic') or depth_topic),
                            str(entry.get('depth_camera_info_topic')
                                or depth_camera_info_topic)))
    if not found:
        raise CameraListError(f'cameras {cameras!r} names no camera')
    seen: set[tuple[str, str]] = set()
    for camera in found:
        # A relative topic resolves in each camera's own namespace.
        for key, value in (('namespace', camera.namespace), ('image topic', camera.image_topic),
                           ('depth topic', camera.depth_topic),
                           ('depth camera info topic', camera.depth_camera_info_topic)):
            if key != 'namespace' and not value.startswith('/'):
                continue
            if (key, value) in seen:
                raise CameraListError(f'two cameras have the {key} {value}: give each its own')
            seen.add((key, value))
    return found


def _camera_file(path: Path) -> list[dict]:
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as error:
        raise CameraListError(f'cameras file {path}: {error}') from error
    entries = document.get('cameras') if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CameraListError(f'cameras file {path}: expected `cameras:` with a list of '
                              f'{{{", ".join(_CAMERA_KEYS)}}}')
    for entry in entries:
        unknown = set(entry) - set(_CAMERA_KEYS)
        if unknown:
            raise CameraListError(f'cameras file {path}: unknown key(s) {sorted(unknown)}; '
                                  f'expected {_CAMERA_KEYS}')
    return entries


def camera_overrides(arguments: Mapping[str, str], camera: Camera) -> dict[str, object]:
    """Return one camera's node parameter overrides: the shared arguments, then its own."""
    overrides = parameter_overrides(arguments)
    for name in ('input_transport', 'depth_topic', 'depth_camera_info_topic'):
        if getattr(camera, name):
            overrides[name] = getattr(camera, name)
    return overrides


def parameter_overrides(arguments: Mapping[str, str]) -> dict[str, object]:
    """Return the parameters the user gave as launch arguments (empty ones are left out)."""
    overrides: dict[str, object] = {}
    for name in PARAMETER_ARGUMENTS:
        text = arguments.get(name)
        if not text:
            continue
        if name in _BOOL_ARGUMENTS:
            if text.lower() not in ('true', 'false'):
                raise ValueError(f'launch argument {name}:={text}: expected true or false')
            overrides[name] = text.lower() == 'true'
        else:
            overrides[name] = text
    return overrides


def input_remappings(image_topic: str) -> list[tuple[str, str]]:
    """Remap every transport's input topic to image_topic (the node uses one of them)."""
    if not image_topic:
        return []
    return [(topic, image_topic) for topic in INPUT_TOPICS.values()]


def node_topic(namespace: str, relative: str) -> str:
    """Absolute name of one of the node's private topics in namespace ('' or '/' is root)."""
    prefix = '/' + namespace.strip('/') if namespace.strip('/') else ''
    return f'{prefix}/{NODE_NAME}/{relative}'


def rviz_config_for(template: Path, namespace: str) -> Path:
    """
    Write the rviz2 config for the node in namespace; returns its path.

    The template names the node's topics relative to its namespace ('yolov8_seg/overlay');
    rviz2 gets them as absolute names, so it shows the node it was launched with.
    """
    config = yaml.safe_load(template.read_text(encoding='utf-8'))
    for display in config['Visualization Manager']['Displays']:
        topic = display.get('Topic')
        if topic and not topic['Value'].startswith('/'):
            topic['Value'] = node_topic(namespace, topic['Value'].split('/', 1)[1])
    handle, path = tempfile.mkstemp(prefix='yolov8_seg_', suffix='.rviz')
    with open(handle, 'w', encoding='utf-8') as out:
        yaml.safe_dump(config, out, sort_keys=False)
    return Path(path)
