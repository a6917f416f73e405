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

"""Every source file carries the project's Apache-2.0 copyright header (ament_copyright style)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = (ROOT / 'dev' / 'copyright_header.txt').read_text().strip().splitlines()
SOURCE_DIRS = ('yolov8_seg_ros', 'test', 'launch', 'dev')


def _source_files() -> list[Path]:
    files = [ROOT / 'setup.py']
    for folder in SOURCE_DIRS:
        files += sorted((ROOT / folder).rglob('*.py'))
        files += sorted((ROOT / folder).rglob('*.sh'))
    return [f for f in files if '__pycache__' not in f.parts]


@pytest.mark.linter
@pytest.mark.copyright
def test_copyright_header() -> None:
    missing = []
    for path in _source_files():
        lines = path.read_text().splitlines()
        if lines and lines[0].startswith('#!'):
            lines = lines[1:]
        if lines[:len(HEADER)] != HEADER:
            missing.append(str(path.relative_to(ROOT)))
    assert len(_source_files()) > 10
    assert not missing, f'files without the copyright header: {missing}'


@pytest.mark.linter
@pytest.mark.copyright
def test_ament_copyright_where_installed() -> None:
    """On a ROS 2 system the ament_copyright tool itself checks the package too."""
    try:
        from ament_copyright.main import main
    except ImportError:
        pytest.skip('ament_copyright is not installed here (not on PyPI); '
                    'test_copyright_header checks the same header')
    assert main(argv=[str(ROOT / d) for d in ('yolov8_seg_ros', 'test', 'launch')]) == 0
