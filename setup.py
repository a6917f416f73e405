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

"""ament_python package definition of yolov8_seg_ros."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = 'yolov8_seg_ros'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(include=[PACKAGE_NAME, f'{PACKAGE_NAME}.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE_NAME}']),
        (f'share/{PACKAGE_NAME}', ['package.xml']),
        (f'share/{PACKAGE_NAME}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE_NAME}/config',
         glob('config/*.yaml') + glob('config/*.txt') + glob('config/*.xml')),
        (f'share/{PACKAGE_NAME}/rviz', glob('rviz/*.rviz')),
    ],
    install_requires=['setuptools'],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='yolov8_seg_ros developers',
    maintainer_email='yolov8-seg-ros@example.com',
    description='YOLOv8/YOLO11 instance segmentation node for ROS 2 (RDK X5 BPU or ONNX Runtime).',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            f'yolov8_seg_node = {PACKAGE_NAME}.node:main',
            f'yolov8-seg-export = {PACKAGE_NAME}.export:main',
            f'yolov8-seg-calib = {PACKAGE_NAME}.calibration:main',
            f'yolov8-seg-eval = {PACKAGE_NAME}.evaluation:main',
        ],
    },
)
