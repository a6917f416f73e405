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
Point the ROS wheels' exported CMake targets at this venv's Python and NumPy headers.

The wheels hard-code the include directories of the machine that built them
(/opt/python/cp311-cp311/...), so building an interface package against the venv fails with
"includes non-existent path". Idempotent: run it again after installing more msg wheels.
"""

from pathlib import Path
import re
import sys
import sysconfig


def main() -> None:
    venv = Path(sys.argv[1])
    import numpy

    python_include = sysconfig.get_paths()['include']
    numpy_include = numpy.get_include()
    numpy_pattern = re.compile(r'/opt/python/cp311-cp311/[^;"\s]*numpy/(_core|core)/include')
    python_pattern = re.compile(r'/opt/python/cp311-cp311/include/python3\.11')
    changed = 0
    for cmake_file in (venv / 'share').rglob('*.cmake'):
        text = cmake_file.read_text()
        if '/opt/python/cp311-cp311' not in text:
            continue
        new_text = python_pattern.sub(python_include, numpy_pattern.sub(numpy_include, text))
        if new_text != text:
            cmake_file.write_text(new_text)
            changed += 1
    print(f'[setup] rewrote include paths in {changed} CMake files')


if __name__ == '__main__':
    main()
