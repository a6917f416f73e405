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

"""backend 'auto' on the three kinds of RDK X5 image, with the runtimes imported by name."""

from helpers.fake_runtime import fake_module, FAKES, S100_WHEEL
import pytest
from yolov8_seg_ros.backends import BackendError, create_backend


@pytest.fixture
def old_image(tmp_path):
    """Emulate an RDK OS 3.4.x image: pyeasy_dnn only."""
    folder = tmp_path / 'site-packages'
    folder.mkdir()
    for name in ('hobot_dnn', 'fake_bpu_model.py'):
        (folder / name).symlink_to(FAKES / name)
    return folder


def test_auto_prefers_hbm_runtime_on_a_current_image(fake_bins):
    with fake_module('hbm_runtime'):
        for layout, path in fake_bins.items():
            backend = create_backend('auto', str(path))
            assert backend.name == 'hbm_runtime', layout
            assert backend.runtime_version == '3.0.9' and backend.warnings == ()


def test_auto_falls_back_to_pyeasy_dnn_on_an_older_image(fake_bins, old_image):
    with fake_module('hobot_dnn.pyeasy_dnn', old_image):
        backend = create_backend('auto', str(fake_bins['float32']))
    assert backend.name == 'hobot_dnn' and backend.warnings == ()  # nothing to warn about


def test_auto_survives_the_pypi_s100_build_shadowing_the_image_one(fake_bins):
    # Its import raises RuntimeError, not ImportError (hbm-runtime-api.md, section 1).
    with fake_module('hobot_dnn.pyeasy_dnn', S100_WHEEL, FAKES):
        backend = create_backend('auto', str(fake_bins['int32']))
        with pytest.raises(BackendError, match=r'does not import .*RuntimeError.*libhbucp'):
            create_backend('hbm_runtime', str(fake_bins['int32']))
    assert backend.name == 'hobot_dnn'
    assert len(backend.warnings) == 1 and 'pip uninstall hbm-runtime' in backend.warnings[0]


def test_auto_reports_both_runtimes_when_neither_loads_the_model(tmp_path):
    broken = tmp_path / 'broken.bin'
    broken.write_text('not a model')
    with fake_module('hbm_runtime'), pytest.raises(BackendError) as error:
        create_backend('auto', str(broken))
    message = str(error.value)
    assert message.startswith('no BPU runtime could load the model')
    assert 'hbm_runtime could not load' in message and 'hobot_dnn could not load' in message


def test_auto_hands_the_bpu_scheduling_to_whichever_runtime_loads(fake_bins, old_image):
    with fake_module('hbm_runtime'):
        current = create_backend('auto', str(fake_bins['float32']), bpu_priority=9,
                                 bpu_cores=[0])
    assert current.name == 'hbm_runtime'
    assert current.scheduling == {'bpu_priority': '9', 'bpu_cores': '[0]'}
    with fake_module('hobot_dnn.pyeasy_dnn', old_image):
        older = create_backend('auto', str(fake_bins['float32']), bpu_priority=9,
                               bpu_cores=[0])
    assert older.name == 'hobot_dnn' and older.warnings == ()
    assert older.scheduling == {'bpu_priority': '9', 'bpu_cores': '[0] (forward core_id 1)'}
