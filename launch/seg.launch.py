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
Start the yolov8_seg node, or one per camera, (parameters from config/seg.yaml) and rviz2.

Launch arguments left empty keep the params file's values. cameras:=front,rear (or a YAML file)
starts one node per camera, each in its own namespace with the shared parameters. When a node
exits, the launch ends (with respawn:=true the node is started again instead); when one could
not start (exit code 1, one FATAL line), the launch exits non-zero too. lifecycle:=true starts
each node as a launch_ros LifecycleNode that waits unconfigured for ChangeState events.
"""

import os

from ament_index_python.packages import get_package_prefix, get_package_share_directory, \
    PackageNotFoundError
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, \
    RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from yolov8_seg_ros.launch_support import camera_overrides, cameras_from, input_remappings, \
    PARAMETER_ARGUMENTS, rviz_config_for
from yolov8_seg_ros.names import EXECUTABLE, INPUT_TOPICS, NODE_NAME, PACKAGE_NAME
from yolov8_seg_ros.parameters import SPECS

ARGUMENTS = ('model_path', 'image_topic', 'input_transport', 'namespace', 'cameras',
             'params_file', 'backend', 'class_names_file', 'depth_topic',
             'depth_camera_info_topic', 'autostart', 'lazy', 'use_rviz', 'respawn',
             'respawn_delay', 'lifecycle')


def _flag(name, text):
    if text.lower() not in ('true', 'false'):
        raise RuntimeError(f'launch argument {name}:={text}: expected true or false')
    return text.lower() == 'true'


def _seconds(name, text):
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0.0 <= seconds < float('inf'):
        raise RuntimeError(f'launch argument {name}:={text}: expected seconds >= 0')
    return seconds


def _on_node_exit(event, context):
    if event.returncode != 0:
        # An exception is the one way to give `ros2 launch` a non-zero exit code.
        raise RuntimeError(f'{NODE_NAME} exited with code {event.returncode}')
    return [EmitEvent(event=Shutdown(reason=f'{NODE_NAME} exited'))]


def _launch_setup(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    use_rviz = values['use_rviz'].lower() in ('true', '1', 'yes')
    respawn = _flag('respawn', values['respawn'])
    respawn_delay = _seconds('respawn_delay', values['respawn_delay'])
    lifecycle = _flag('lifecycle', values['lifecycle'])
    if use_rviz:
        try:
            get_package_prefix('rviz2')
        except PackageNotFoundError:
            # Checked before anything starts, so a failed launch leaves no process behind.
            raise RuntimeError('use_rviz:=true but rviz2 is not installed (e.g. sudo apt '
                               'install ros-$ROS_DISTRO-rviz2); nothing was started') from None
    # Checked before anything starts too: a bad camera list starts no node.
    cameras = cameras_from(values['cameras'], values['namespace'], values['image_topic'],
                           values['depth_topic'], values['depth_camera_info_topic'])
    actions = []
    for camera in cameras:
        overrides = camera_overrides(values, camera)
        if lifecycle:
            # The launch's ChangeState events (or a lifecycle manager) bring it up, not the node;
            # an explicit autostart:=true still wins.
            overrides.setdefault('autostart', False)
        node = (LifecycleNode if lifecycle else Node)(
            package=PACKAGE_NAME, executable=EXECUTABLE, name=NODE_NAME,
            namespace=camera.namespace, parameters=[values['params_file'], overrides],
            remappings=input_remappings(camera.image_topic), output='screen', emulate_tty=True,
            respawn=respawn, respawn_delay=respawn_delay)
        actions.append(node)
        if not respawn:
            # With respawn, launch starts the node again instead of ending.
            actions.append(RegisterEventHandler(OnProcessExit(target_action=node,
                                                              on_exit=_on_node_exit)))
    if use_rviz:
        share = get_package_share_directory(PACKAGE_NAME)
        config = rviz_config_for(os.path.join(share, 'rviz', 'yolov8_seg.rviz'),
                                 cameras[0].namespace)
        actions.append(Node(package='rviz2', executable='rviz2', name='rviz2',
                            namespace=cameras[0].namespace, arguments=['-d', str(config)]))
    return actions


def _described(name, suffix):
    return SPECS[name].description + suffix


def generate_launch_description():
    share = get_package_share_directory(PACKAGE_NAME)
    keep = '; empty: the params_file value'
    assert set(PARAMETER_ARGUMENTS) <= set(ARGUMENTS)
    return LaunchDescription([
        DeclareLaunchArgument('model_path', default_value='',
                              description=_described('model_path', keep)),
        DeclareLaunchArgument('image_topic', default_value='',
                              description='Input topic; empty: the relative TROS default of '
                                          f'the transport {INPUT_TOPICS}'),
        DeclareLaunchArgument('input_transport', default_value='',
                              description=_described('input_transport', keep)),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the node (one per camera); its '
                                          f'outputs are /<namespace>/{NODE_NAME}/...'),
        DeclareLaunchArgument('cameras', default_value='',
                              description='Several cameras, one node each: a comma list of '
                                          'namespaces (front,rear: /front/image_raw, ...) or a '
                                          'YAML file (cameras: [{namespace, image_topic, '
                                          'input_transport, depth_topic, '
                                          'depth_camera_info_topic}]); an absolute topic two '
                                          'cameras would share is refused; rviz2 shows the '
                                          'first'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'seg.yaml'),
                              description='YAML with the node parameters (config/seg.yaml '
                                          'lists every one)'),
        DeclareLaunchArgument('backend', default_value='',
                              description=_described('backend', keep)),
        DeclareLaunchArgument('class_names_file', default_value='',
                              description=_described('class_names_file', keep)),
        DeclareLaunchArgument('depth_topic', default_value='',
                              description=_described('depth_topic', keep)),
        DeclareLaunchArgument('depth_camera_info_topic', default_value='',
                              description=_described('depth_camera_info_topic', keep)),
        DeclareLaunchArgument('autostart', default_value='',
                              description=_described('autostart', keep)),
        DeclareLaunchArgument('lazy', default_value='',
                              description=_described('lazy', keep)),
        DeclareLaunchArgument('use_rviz', default_value='false',
                              description='Start rviz2 (in the same namespace) showing this '
                                          "node's overlay, mask and 3D markers"),
        DeclareLaunchArgument('respawn', default_value='false',
                              description='Start the node again respawn_delay seconds after it '
                                          'exits, whatever its exit code, until the launch is '
                                          'stopped; false: the node exiting ends the launch'),
        DeclareLaunchArgument('respawn_delay', default_value='1.0',
                              description='Seconds between the node exiting and its restart '
                                          '(with respawn:=true)'),
        DeclareLaunchArgument('lifecycle', default_value='false',
                              description='Start the node as a launch_ros LifecycleNode with '
                                          'autostart false: it waits unconfigured for launch '
                                          'ChangeState events, a lifecycle manager or ros2 '
                                          'lifecycle set'),
        OpaqueFunction(function=_launch_setup),
    ])
