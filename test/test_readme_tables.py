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

"""The README's parameter and launch-argument tables are the ones the code generates."""

import importlib.util
from pathlib import Path

from helpers.launch_stack import MISSING_REASON
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = 'run `python dev/reference_tables.py --write` and commit README.md'


def generator():
    """Import dev/reference_tables.py (dev/ is no package)."""
    spec = importlib.util.spec_from_file_location('reference_tables',
                                                  ROOT / 'dev' / 'reference_tables.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme() -> str:
    return (ROOT / 'README.md').read_text(encoding='utf-8')


def test_readme_parameter_table_is_the_generated_one():
    tables = generator()
    assert tables.readme_table(readme(), 'parameters') == tables.parameter_table(), FIX


def test_readme_launch_argument_table_is_the_generated_one():
    for module in ('launch', 'launch_ros'):
        pytest.importorskip(module, reason=MISSING_REASON, exc_type=ImportError)
    tables = generator()
    assert tables.readme_table(readme(), 'launch arguments') == \
        tables.launch_argument_table(), FIX


def test_every_parameter_and_launch_argument_has_a_row():
    # The tables list each name once, so a row cannot hide behind a stale copy of another.
    from yolov8_seg_ros.parameters import PARAMETERS
    tables = generator()
    rows = tables.readme_table(readme(), 'parameters').splitlines()[2:]
    assert [row.split('`')[1] for row in rows] == [spec.name for spec in PARAMETERS], FIX


def test_a_changed_description_is_caught():
    # The check compares text between the markers: an edited row differs from the code's.
    tables = generator()
    text = readme()
    table = tables.readme_table(text, 'parameters')
    edited = tables.with_tables(text, {'parameters': table.replace('| bool |', '| int |', 1)})
    assert tables.readme_table(edited, 'parameters') != tables.parameter_table()
    assert tables.with_tables(text, {'parameters': table}) == text


def test_readme_lists_every_accepted_encoding():
    from yolov8_seg_ros.image_encodings import ENCODINGS
    row = next(line for line in readme().splitlines() if line.startswith('| in: `image_raw`'))
    missing = [name for name in ENCODINGS if f'`{name}`' not in row]
    assert not missing, f'the image_raw row of README.md lacks the encodings {missing}'
