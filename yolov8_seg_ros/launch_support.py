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

Which launch arguments become parameter overrides, the input remappings, and the rviz2 config
for one node's namespace.
"""

from __future__ import annotations

from pathlib import Path
import tempfile
from typing import Mapping

import yaml

from yolov8_seg_ros.names import INPUT_TOPICS, NODE_NAME

# Launch arguments that set the node parameter of the same name; empty keeps the params file's.
PARAMETER_ARGUMENTS = ('model_path', 'input_transport', 'backend', 'class_names_file',
                       'depth_topic', 'depth_camera_info_topic')


def parameter_overrides(arguments: Mapping[str, str]) -> dict[str, str]:
    """Return the parameters the user gave as launch arguments (empty ones are left out)."""
    return {name: arguments[name] for name in PARAMETER_ARGUMENTS if arguments.get(name)}


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
