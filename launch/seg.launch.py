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


"""Start the yolov8_seg node (parameters from config/seg.yaml) and optionally rviz2."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'yolov8_seg_ros'
EXECUTABLE = 'yolov8_seg_node'
NODE_NAME = 'yolov8_seg'
# The node's relative input topic per transport (TROS defaults at the root namespace).
INPUT_TOPICS = {'raw': 'image_raw', 'compressed': 'image', 'hbmem': 'hbmem_img'}


def _node(context, *args, **kwargs):
    transport = LaunchConfiguration('input_transport').perform(context)
    image_topic = LaunchConfiguration('image_topic').perform(context)
    if transport not in INPUT_TOPICS:
        raise RuntimeError(f'input_transport {transport!r}: expected one of '
                           f'{tuple(INPUT_TOPICS)}')
    remappings = [(INPUT_TOPICS[transport], image_topic)] if image_topic else []
    overrides = {'input_transport': transport,
                 'backend': LaunchConfiguration('backend').perform(context)}
    model_path = LaunchConfiguration('model_path').perform(context)
    if model_path:
        overrides['model_path'] = model_path
    return [Node(package=PACKAGE, executable=EXECUTABLE, name=NODE_NAME,
                 namespace=LaunchConfiguration('namespace'),
                 parameters=[LaunchConfiguration('params_file'), overrides],
                 remappings=remappings, output='screen', emulate_tty=True)]


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument('model_path', default_value='',
                              description='Model file (.bin for hobot_dnn, .onnx for ONNX '
                                          'Runtime); empty keeps the params_file value'),
        DeclareLaunchArgument('image_topic', default_value='',
                              description='Input topic; empty: image_raw (raw), image '
                                          '(compressed) or hbmem_img (hbmem), TROS defaults'),
        DeclareLaunchArgument('input_transport', default_value='raw',
                              description='raw | compressed | hbmem'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the node (one per camera)'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'seg.yaml'),
                              description='YAML with the node parameters'),
        DeclareLaunchArgument('backend', default_value='auto',
                              description='auto | hobot_dnn | onnxruntime'),
        DeclareLaunchArgument('use_rviz', default_value='false',
                              description='Start rviz2 showing the overlay and the mask'),
        OpaqueFunction(function=_node),
        Node(package='rviz2', executable='rviz2', name='rviz2',
             arguments=['-d', os.path.join(share, 'rviz', 'yolov8_seg.rviz')],
             condition=IfCondition(LaunchConfiguration('use_rviz'))),
    ])
