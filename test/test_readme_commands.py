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
The README's commands are the ones that run: quoted from the demo, installed where it says.

`make demo ARGS=--loop` runs dev/demo.py's LOOP_LAUNCH and SECOND_SHELL commands; the README
must quote them as they are. The package's console scripts are called through `ros2 run`,
since ament_python installs them to lib/<package>, which is not on PATH.
"""

import ast
from pathlib import Path
import re

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, without its trailing comment."""
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    lines = []
    for block in re.findall(r'^```bash\n(.*?)^```', text, flags=re.M | re.S):
        for line in block.replace('\\\n', ' ').splitlines():
            command = line.split(' #', 1)[0].strip()
            if command and not command.startswith('#'):
                lines.append(' '.join(command.split()))
    return lines


def demo_constants() -> dict:
    """dev/demo.py's string constants, read without importing it (it needs ROS)."""
    tree = ast.parse((ROOT / 'dev' / 'demo.py').read_text(encoding='utf-8'))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def test_the_first_two_commands_are_the_demo_and_the_suite_ci_runs():
    ci = [line.strip() for line in (ROOT / '.ci' / 'run').read_text().splitlines()
          if line.strip() and not line.startswith(('#', 'set ', 'cd '))]
    assert readme_commands()[:2] == ['make demo', 'make test'] and ci == ['make test'], ci


@pytest.mark.parametrize('name', ['LOOP_LAUNCH', 'LOOP_BAG_PLAY', 'SECOND_SHELL'])
def test_readme_quotes_the_commands_the_loop_demo_runs(name):
    value = demo_constants()[name]
    commands = readme_commands()
    for command in (value,) if isinstance(value, str) else value:
        assert command in commands, f'README.md must show `{command}` (dev/demo.py {name})'


def test_package_commands_are_run_through_ros2_run():
    setup = (ROOT / 'setup.py').read_text(encoding='utf-8')
    scripts = re.findall(r"f'([\w-]+) = \{PACKAGE_NAME\}", setup)
    assert 'yolov8-seg-export' in scripts, scripts
    for command in readme_commands():
        words = command.split()
        for script in scripts:
            if script in words:
                index = words.index(script)
                assert words[max(0, index - 3):index] == ['ros2', 'run', 'yolov8_seg_ros'], \
                    f'{command}: run {script} as `ros2 run yolov8_seg_ros {script}`'


def test_console_scripts_install_where_ros2_run_finds_them():
    pytest.importorskip('ament_index_python')
    from helpers.node_process import installed_executable
    for script in ('yolov8-seg-export', 'yolov8-seg-eval', 'yolov8-seg-calib'):
        assert installed_executable(script).is_file()


def test_readme_stays_short():
    lines = (ROOT / 'README.md').read_text(encoding='utf-8').count('\n')
    assert lines <= README_MAX_LINES, (f'README.md has {lines} lines: move details to docs/ or '
                                       'CONTRIBUTING.md')
