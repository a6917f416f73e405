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
Fake of PyPI's hbm-runtime (the RDK S100 build) installed on an X5, after hbm-runtime-api.md.

Its import-time library check fails on an X5 (no libhbucp.so) with a RuntimeError, not an
ImportError; a node must fall back to pyeasy_dnn instead of crashing.
"""

raise RuntimeError(
    "Missing Horizon runtime libraries (provided by the 'hobot-dnn' package):\n"
    '  - libhbucp.so (Horizon UCP library) - libhbucp.so: cannot open shared object file: '
    'No such file or directory')
