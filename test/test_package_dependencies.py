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
package.xml's run dependencies cover every import the node can make.

The imports of yolov8_seg_ros/node.py are followed through the package (function-level and
optional ones included); each outside import must be the standard library, a rosdep key that
package.xml lists as a run dependency, or one of the runtimes without a rosdep key below.
"""

from __future__ import annotations

import ast
from pathlib import Path
import sys
import xml.etree.ElementTree as ElementTree

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'yolov8_seg_ros'
ENTRY = ROOT / PACKAGE / 'node.py'
# Python import name -> rosdep key, for the imports whose key is not the import name (ROS
# packages such as rclpy or sensor_msgs are their own key).
ROSDEP_KEYS = {'numpy': 'python3-numpy', 'cv2': 'python3-opencv', 'scipy': 'python3-scipy',
               'yaml': 'python3-yaml'}
# ROS packages: the import name is the rosdep key.
ROS_PACKAGES = {'rclpy', 'ament_index_python', 'rcl_interfaces', 'builtin_interfaces',
                'std_msgs', 'sensor_msgs', 'vision_msgs', 'diagnostic_msgs', 'geometry_msgs',
                'visualization_msgs', 'lifecycle_msgs'}
# Optional runtimes the node imports only where present; no rosdep key exists for them
# (package.xml's comment says where each comes from).
WITHOUT_ROSDEP_KEY = {
    'onnxruntime': 'ONNX Runtime on a PC: pip install onnxruntime',
    'hobot_dnn': 'the RDK X5 system image (pyeasy_dnn)',
    'hobot_dnn_rdkx5': "PyPI's build of the same pyeasy_dnn, tried after hobot_dnn (board only)",
    'hbm_runtime': 'the RDK X5 system image, RDK OS 3.5 and newer',
    'hbm_img_msgs': 'TogetheROS.Bot (the hbmem transport only)',
}


def _module_file(dotted: str) -> Path | None:
    """Return the source file of a module of this package, or None when there is none."""
    base = ROOT.joinpath(*dotted.split('.'))
    for path in (base.with_suffix('.py'), base / '__init__.py'):
        if path.is_file():
            return path
    return None


def _imports(path: Path) -> set[str]:
    """Every dotted module name path imports, anywhere in the file (functions and try too)."""
    names = set()
    package = '.'.join(path.relative_to(ROOT).with_suffix('').parts)
    if path.name != '__init__.py':
        package = package.rsplit('.', 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1])
                module = f'{base}.{node.module}' if node.module else base
            else:
                module = node.module
            names.add(module)
            # `from package import submodule` loads the submodule too.
            names.update(f'{module}.{alias.name}' for alias in node.names
                         if _module_file(f'{module}.{alias.name}') is not None)
    return names


def node_imports() -> tuple[set[Path], set[str]]:
    """Return the package files the node can load and the outside top-level modules they use."""
    seen: set[Path] = set()
    outside: set[str] = set()
    todo = [ENTRY]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split('.')[0]
            if top != PACKAGE:
                outside.add(top)
                continue
            # A package's __init__ runs before any of its modules.
            parts = name.split('.')
            for depth in range(1, len(parts) + 1):
                found = _module_file('.'.join(parts[:depth]))
                if found is not None:
                    todo.append(found)
    return seen, outside - set(sys.stdlib_module_names) - {'__future__'}


def run_dependencies() -> set[str]:
    """Return the rosdep keys package.xml lists as run dependencies (depend, exec_depend)."""
    root = ElementTree.parse(ROOT / 'package.xml').getroot()
    return {element.text.strip() for tag in ('depend', 'exec_depend')
            for element in root.iter(tag)}


def test_the_walk_reaches_the_modules_the_node_loads_lazily():
    files, outside = node_imports()
    loaded = {path.relative_to(ROOT).as_posix() for path in files}
    # Backends and the tracker's solver are imported inside functions; the walk must see them.
    assert {'yolov8_seg_ros/node.py', 'yolov8_seg_ros/backends/onnxruntime_backend.py',
            'yolov8_seg_ros/backends/hobot_dnn_backend.py',
            'yolov8_seg_ros/tracking.py'} <= loaded, sorted(loaded)
    assert {'rclpy', 'numpy', 'cv2', 'scipy', 'onnxruntime'} <= outside, sorted(outside)


def test_package_xml_lists_every_import_of_the_node_as_a_run_dependency():
    _, outside = node_imports()
    unknown = sorted(outside - ROS_PACKAGES - set(ROSDEP_KEYS) - set(WITHOUT_ROSDEP_KEY))
    assert not unknown, (f'the node imports {unknown}: add each to ROSDEP_KEYS or ROS_PACKAGES '
                         'here with its rosdep key, and that key to package.xml')
    needed = {ROSDEP_KEYS.get(name, name) for name in outside - set(WITHOUT_ROSDEP_KEY)}
    missing = sorted(needed - run_dependencies())
    assert not missing, f'package.xml lacks the run dependencies {missing}'
