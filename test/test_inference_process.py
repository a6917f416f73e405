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
The backend in its own process: same outputs, in order, overlapped; every failure named; no leak.

Every test ends with no shared-memory segment of this process left in /dev/shm and no child
process left running or unreaped (the autouse fixture).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import time
from typing import Optional

from helpers.fake_runtime import fake_hbm_runtime, fake_pyeasy_dnn, write_fake_bin
from helpers.inference_factories import fake_runtime_backend, MARKERS, misbehaving_backend
from helpers.models import ROOT, SHAPES_ONNX
from helpers.shapes_dataset import generate_scene, SHAPE_CLASS_NAMES
import numpy as np
import pytest
from yolov8_seg_ros.backends import BackendError, create_backend, RuntimeUnavailableError
from yolov8_seg_ros.backends.hbm_runtime_backend import HbmRuntimeBackend
from yolov8_seg_ros.backends.hobot_dnn_backend import HobotDnnBackend
from yolov8_seg_ros.image_conversion import SourceImage
from yolov8_seg_ros.inference_process import (BackendSpec, InferenceProcess,
                                              InferenceProcessClosedError,
                                              InferenceProcessDiedError,
                                              InferenceProcessStalledError, InferenceQueueError,
                                              ProcessBackendFactory, SHM_DIR, SHM_PREFIX)
from yolov8_seg_ros.parameters import default_values, runtime_config
from yolov8_seg_ros.pipeline import SegmentationPipeline
from yolov8_seg_ros.preprocess import bgr_to_nv12, Preprocessor

ONNX = str(SHAPES_ONNX)
RUNTIMES = {'hbm_runtime': (fake_hbm_runtime, HbmRuntimeBackend),
            'hobot_dnn': (fake_pyeasy_dnn, HobotDnnBackend)}


def own_segments() -> set[str]:
    """Shared-memory segments this process's InferenceProcesses created and did not unlink."""
    return {p.name for p in SHM_DIR.glob(f'{SHM_PREFIX}{os.getpid()}_*')}


def mapped_segments() -> str:
    """Return /proc/self/maps: the shared-memory segments this process still maps."""
    return Path('/proc/self/maps').read_text()


def proc_state(pid: int) -> Optional[str]:
    """One-letter state of a process ('R', 'S', 'Z', ...), None when it no longer exists."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    return text[text.rindex(')') + 2:].split()[0]


def children() -> dict[int, str]:
    """Return this process's children and their command lines (empty for a zombie)."""
    found = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / 'cmdline').read_bytes().replace(b'\0', b' ').decode()
        except OSError:  # it ended meanwhile
            continue
        if int(text[text.rindex(')') + 2:].split()[1]) == os.getpid():
            found[int(stat.parent.name)] = cmdline
    return found


def wait_gone(pid: int, timeout_s: float = 20.0) -> Optional[str]:
    """Wait until pid has ended (gone, or a zombie another process must reap); its last state."""
    deadline = time.monotonic() + timeout_s
    state = proc_state(pid)
    while state not in (None, 'Z') and time.monotonic() < deadline:
        time.sleep(0.05)
        state = proc_state(pid)
    return state


@pytest.fixture(autouse=True)
def no_leftovers():
    """After each test: no segment of ours in /dev/shm, no new child alive or unreaped."""
    before = set(children())
    yield
    assert own_segments() == set()
    new = {pid: cmd for pid, cmd in children().items()
           if pid not in before and 'resource_tracker' not in cmd}  # the stdlib's, shared
    assert {pid: (proc_state(pid), cmd) for pid, cmd in new.items()} == {}


def nv12_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Preprocessed 320x320 NV12 tensors of shapes scenes."""
    preprocessor = Preprocessor((320, 320), 'nv12')
    rng = np.random.default_rng(seed)
    return [preprocessor(bgr_to_nv12(generate_scene(rng, 640, 480).image_bgr), 'nv12').tensor
            for _ in range(count)]


def rgb_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Preprocessed (1, 3, 320, 320) float32 tensors: shapes scenes, then random values."""
    preprocessor = Preprocessor((320, 320), 'rgb_nchw')
    rng = np.random.default_rng(seed)
    scenes = [preprocessor(generate_scene(rng, 640, 480).image_bgr, 'bgr8').tensor
              for _ in range(count - count // 2)]
    return scenes + [rng.random((1, 3, 320, 320), dtype=np.float32)
                     for _ in range(count // 2)]


def assert_same_outputs(got, expected) -> None:
    assert len(got) == len(expected) == 10
    for index, (a, b) in enumerate(zip(got, expected)):
        assert a.data.dtype == b.data.dtype, index
        assert a.data.shape == b.data.shape, index
        assert np.array_equal(a.data, b.data), index
        assert (a.scale is None) == (b.scale is None), index
        if a.scale is not None:
            assert np.array_equal(a.scale, b.scale), index


def assert_same_description(process: InferenceProcess, backend) -> None:
    for attribute in ('name', 'model_path', 'runtime_version', 'input_wh', 'input_format',
                      'warnings', 'layout'):
        assert getattr(process, attribute) == getattr(backend, attribute), attribute


def test_onnx_outputs_identical_to_in_process():
    backend = create_backend('onnxruntime', ONNX)
    frames = rgb_frames(4)
    with InferenceProcess(BackendSpec('onnxruntime', ONNX)) as process:
        assert_same_description(process, backend)
        for frame in frames:
            assert_same_outputs(process.infer(frame), backend.infer(frame))
        # The two-stage path, views as well as copies.
        process.submit(frames[0], 'a')
        process.submit(frames[1], 'b')
        tag, outputs = process.collect(copy=False)
        assert tag == 'a'
        assert_same_outputs(outputs, backend.infer(frames[0]))
        process.release()
        tag, outputs = process.collect()
        assert tag == 'b'
        assert_same_outputs(outputs, backend.infer(frames[1]))


@pytest.mark.parametrize('layout', ['int32', 'float32'])
@pytest.mark.parametrize('runtime', sorted(RUNTIMES))
def test_fake_bpu_outputs_identical_to_in_process(fake_bins, runtime, layout):
    fake_module, backend_class = RUNTIMES[runtime]
    path = str(fake_bins[layout])
    frames = [*nv12_frames(3), np.random.default_rng(1).integers(0, 256, 320 * 480, np.uint8)]
    with fake_module() as module:
        backend = backend_class(path, module)
        expected = [backend.infer(frame) for frame in frames]
    spec = BackendSpec(runtime, path, factory=fake_runtime_backend)
    with InferenceProcess(spec, slots=3) as process:
        assert_same_description(process, backend)
        assert process.description.input_bytes == 320 * 480
        quantized = [o.scale is not None for o in expected[0]]
        assert any(quantized) == (layout == 'int32')
        for frame, want in zip(frames, expected):
            assert_same_outputs(process.infer(frame), want)
        for index, frame in enumerate(frames[:3]):
            process.submit(frame, index)
        for index in range(3):
            tag, outputs = process.collect()
            assert tag == index
            assert_same_outputs(outputs, expected[index])


def test_order_preserved_with_frames_in_flight():
    backend = create_backend('onnxruntime', ONNX)
    frames = rgb_frames(9, seed=3)
    expected = [backend.infer(frame) for frame in frames]
    collected = []
    with InferenceProcess(BackendSpec('onnxruntime', ONNX), slots=3) as process:
        submitted = 0
        while len(collected) < len(frames):
            # Keep every slot busy, and collect one at a time (views, then released).
            while submitted < len(frames) and process.free_slots:
                process.submit(frames[submitted], f'frame{submitted}')
                submitted += 1
            assert process.pending == min(3, len(frames) - len(collected))
            tag, outputs = process.collect(copy=False)
            assert_same_outputs(outputs, expected[len(collected)])
            collected.append(tag)
            process.release()
    assert collected == [f'frame{i}' for i in range(len(frames))]


def test_slots_are_bounded_and_calls_out_of_order_refused():
    frames = rgb_frames(3, seed=4)
    with InferenceProcess(BackendSpec('onnxruntime', ONNX), slots=2) as process:
        with pytest.raises(InferenceQueueError, match='no frame submitted'):
            process.collect()
        process.submit(frames[0], 0)
        process.submit(frames[1], 1)
        assert process.free_slots == 0
        with pytest.raises(InferenceQueueError, match='all 2 slots are busy'):
            process.submit(frames[2], 2)
        with pytest.raises(InferenceQueueError, match='not collected'):
            process.infer(frames[2])
        tag, views = process.collect(copy=False)
        assert tag == 0
        # Views are read-only and hold their slot until released.
        assert not views[0].data.flags.writeable
        with pytest.raises(InferenceQueueError, match='1 held by collect'):
            process.submit(frames[2], 2)
        process.release()
        process.submit(frames[2], 2)
        tag, copies = process.collect()
        assert tag == 1
        assert all(o.data.flags.writeable for o in copies)
        # A view stays valid until the next collect, which frees its slot.
        assert process.collect(copy=False).tag == 2
        assert process.free_slots == 1
        process.submit(frames[0], 3)
        assert process.free_slots == 0
        assert process.collect().tag == 3
        assert process.free_slots == 2
        # infer() with views holds one slot until the next call.
        views = process.infer(frames[1], copy=False)
        assert not views[0].data.flags.writeable
        assert process.free_slots == 1
        assert all(o.data.flags.writeable for o in process.infer(frames[2]))
        assert process.free_slots == 2


@pytest.mark.parametrize('name, path', [
    ('onnxruntime', '/nonexistent/model.onnx'),
    ('tensorflow', ONNX),
    ('auto', str(ROOT / 'README.md')),
    ('hbm_runtime', str(ROOT / 'README.md')),
], ids=['missing_file', 'unknown_backend', 'unknown_extension', 'no_bpu_runtime'])
def test_load_error_has_the_in_process_type_and_text(name, path):
    with pytest.raises(BackendError) as in_process:
        create_backend(name, path)
    with pytest.raises(BackendError) as in_child:
        InferenceProcess(BackendSpec(name, path))
    assert type(in_child.value) is type(in_process.value)
    assert str(in_child.value) == str(in_process.value)
    if name == 'hbm_runtime':
        assert isinstance(in_child.value, RuntimeUnavailableError)


@pytest.mark.parametrize('options, reason', [
    ({'load_error': 'value'}, 'ValueError: no such option for'),
    ({'load_exit_code': 7}, 'died: exited with code 7'),
    ({'load_error': 'segv'}, 'died: killed by SIGSEGV'),
], ids=['exception', 'exit', 'segfault'])
def test_load_failure_is_a_backend_error_with_the_reason(options, reason):
    spec = BackendSpec('onnxruntime', ONNX, options=options, factory=misbehaving_backend)
    with pytest.raises(BackendError, match=reason):
        InferenceProcess(spec)


def test_load_timeout_is_a_backend_error():
    spec = BackendSpec('onnxruntime', ONNX, options={'load_sleep_s': 60.0},
                       factory=misbehaving_backend)
    with pytest.raises(BackendError, match=r'no answer within 1 s while loading the model'):
        InferenceProcess(spec, load_timeout_s=1.0, stop_timeout_s=0.2)


def marked(frame: np.ndarray, what: str) -> np.ndarray:
    frame = frame.copy()
    frame.reshape(-1)[0] = MARKERS[what]
    return frame


def misbehaving(**kwargs) -> InferenceProcess:
    return InferenceProcess(BackendSpec('onnxruntime', ONNX, factory=misbehaving_backend),
                            **kwargs)


def test_failed_frame_raises_backend_error_and_the_process_goes_on():
    backend = create_backend('onnxruntime', ONNX)
    frame = rgb_frames(1, seed=5)[0]
    with misbehaving() as process:
        with pytest.raises(BackendError, match='ValueError: marked frame'):
            process.infer(marked(frame, 'error'))
        with pytest.raises(BackendError, match=r'output 0: .* must stay fixed'):
            process.infer(marked(frame, 'reshape'))
        process.submit(marked(frame, 'error'), 'bad')
        process.submit(frame, 'good')
        with pytest.raises(BackendError, match='marked frame'):
            process.collect()
        tag, outputs = process.collect()
        assert tag == 'good'
        assert_same_outputs(outputs, backend.infer(frame))
        assert process.check() is None
        assert process.free_slots == 2


def test_wrong_input_size_has_the_in_process_error(fake_bins):
    path = str(fake_bins['float32'])
    short = np.zeros(320 * 480 - 2, np.uint8)
    with fake_hbm_runtime() as module, pytest.raises(BackendError) as in_process:
        HbmRuntimeBackend(path, module).infer(short)
    spec = BackendSpec('hbm_runtime', path, factory=fake_runtime_backend)
    with InferenceProcess(spec) as process:
        with pytest.raises(BackendError) as in_child:
            process.infer(short)
        assert str(in_child.value) == str(in_process.value)
        # Larger than the model's input: refused before it reaches the shared memory.
        with pytest.raises(BackendError, match='takes at most 153600 bytes'):
            process.submit(np.zeros(320 * 480 + 1, np.uint8))
        assert process.infer(nv12_frames(1)[0])[0].data.shape == (1, 40, 40, 4)


@pytest.mark.parametrize('when', ['idle', 'in_flight'])
def test_killed_child_raises_died_and_leaves_nothing(when):
    frame = rgb_frames(1, seed=6)[0]
    process = misbehaving(stall_timeout_s=30.0)
    pid, segment = process.pid, process.shm_name
    assert segment in own_segments()
    if when == 'in_flight':
        process.submit(marked(frame, 'stall'), 'stuck')
    os.kill(pid, signal.SIGKILL)
    if when == 'idle':
        deadline = time.monotonic() + 20.0
        while process.check() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert 'died: killed by SIGKILL (exit code -9)' in process.check()
        with pytest.raises(InferenceProcessDiedError, match='killed by SIGKILL'):
            process.submit(frame)
    else:
        with pytest.raises(InferenceProcessDiedError, match='killed by SIGKILL'):
            process.collect()
    assert proc_state(pid) is None  # reaped: no zombie
    assert process.exitcode == -signal.SIGKILL
    # The failure sticks until close.
    with pytest.raises(InferenceProcessDiedError):
        process.collect()
    assert 'SIGKILL' in process.check()
    process.close()
    assert segment not in own_segments()


def test_child_exiting_mid_frame_reports_its_exit_code():
    frame = rgb_frames(1, seed=7)[0]
    with misbehaving() as process:
        process.submit(marked(frame, 'exit'))
        with pytest.raises(InferenceProcessDiedError,
                           match=r"inference process \d+ \(onnxruntime, '.*shapes_seg_320.onnx'\) "
                                 'died: exited with code 3'):
            process.collect()


def test_stuck_child_times_out_and_is_killed_on_close():
    frame = rgb_frames(1, seed=8)[0]
    process = misbehaving(stall_timeout_s=0.5, stop_timeout_s=0.5)
    pid = process.pid
    process.submit(marked(frame, 'stall'), 'stuck')
    # check() sees it without blocking, from the oldest frame's age.
    time.sleep(0.7)
    assert 'no answer for frame 0 after' in process.check()
    with pytest.raises(InferenceProcessStalledError, match=r'no answer within 0.2 s while '
                                                           r'frame 0 \(submitted'):
        process.collect(timeout_s=0.2)
    with pytest.raises(InferenceProcessStalledError):
        process.submit(frame)
    started = time.monotonic()
    process.close()
    # It could not read 'stop' (the GIL is held in the runtime): SIGTERM ended it.
    assert time.monotonic() - started < 30.0
    assert process.exitcode == -signal.SIGTERM
    assert proc_state(pid) is None


@pytest.mark.parametrize('state', ['idle', 'in_flight', 'holding_views', 'failed', 'closed'])
def test_close_in_every_state(state):
    frames = rgb_frames(2, seed=9)
    process = InferenceProcess(BackendSpec('onnxruntime', ONNX))
    pid, segment = process.pid, process.shm_name
    views = None
    if state == 'in_flight':
        process.submit(frames[0])
        process.submit(frames[1])
    elif state == 'holding_views':
        process.submit(frames[0])
        views = process.collect(copy=False).outputs
        expected = [np.array(o.data) for o in views]
    elif state == 'failed':
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(InferenceProcessDiedError):
            process.infer(frames[0])
    elif state == 'closed':
        process.close()
    process.close()
    assert process.closed
    # A failure is still the reason after close; a closed healthy process has none.
    assert (process.check() is None) == (state != 'failed')
    assert proc_state(pid) is None
    assert segment not in own_segments()
    if state in ('idle', 'in_flight', 'holding_views', 'closed'):
        assert process.exitcode == 0  # it stopped when asked
    if state == 'failed':
        with pytest.raises(InferenceProcessDiedError):
            process.submit(frames[0])
    else:
        with pytest.raises(InferenceProcessClosedError, match='is closed'):
            process.submit(frames[0])
    if views is not None:  # still mapped while referenced, though unlinked
        assert segment in mapped_segments()
        assert all(np.array_equal(v.data, e) for v, e in zip(views, expected))
        del views
        gc.collect()
    assert segment not in mapped_segments()


def test_exception_in_with_block_stops_the_child():
    process = InferenceProcess(BackendSpec('onnxruntime', ONNX))
    pid = process.pid
    with pytest.raises(KeyError), process:
        process.submit(rgb_frames(1)[0])
        raise KeyError('the caller failed')
    assert proc_state(pid) is None
    assert process.closed


def test_garbage_collection_stops_the_child():
    process = InferenceProcess(BackendSpec('onnxruntime', ONNX))
    pid, segment = process.pid, process.shm_name
    process.submit(rgb_frames(1)[0])
    del process
    gc.collect()
    assert proc_state(pid) is None
    assert segment not in own_segments()


PARENT_SCRIPT = textwrap.dedent("""
    import os
    import sys
    import time

    from yolov8_seg_ros.inference_process import BackendSpec, InferenceProcess

    if __name__ == '__main__':
        process = InferenceProcess(BackendSpec('onnxruntime', sys.argv[1]))
        print(process.pid, process.shm_name, flush=True)
        if sys.argv[2] == 'os_exit':
            os._exit(0)  # no atexit, no finalizer: only the kernel and the resource tracker
        if sys.argv[2] == 'sigkill':
            time.sleep(600)
        # 'exit': the interpreter ends without close(); the finalizer runs at exit
""")


@pytest.mark.parametrize('how', ['exit', 'os_exit', 'sigkill'])
def test_parent_exit_ends_the_child_and_frees_the_memory(tmp_path, how):
    script = tmp_path / 'parent.py'
    script.write_text(PARENT_SCRIPT)
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), *sys.path])}
    parent = subprocess.Popen([sys.executable, str(script), ONNX, how], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = parent.stdout.readline()
        assert line, parent.communicate(timeout=60)[1]
        child_pid, segment = int(line.split()[0]), line.split()[1]
        assert (SHM_DIR / segment).exists()
        if how == 'sigkill':
            parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
        parent.stderr.close()
    # Gone, or a zombie for init to reap: either way no longer running.
    assert wait_gone(child_pid) in (None, 'Z')
    deadline = time.monotonic() + 20.0  # the resource tracker unlinks once the child is gone
    while (SHM_DIR / segment).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (SHM_DIR / segment).exists()


def busy_cpu(seconds: float) -> tuple[float, float]:
    """Hold the GIL and a core for seconds (the decode stand-in); its monotonic interval."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        pass
    return started, time.monotonic()


def overlaps_s(child: list, parent: list) -> list[float]:
    """For each frame k, how long the child's inference of k+1 ran beside the parent's step k."""
    return [min(c.finished_s, p[1]) - max(c.started_s, p[0])
            for c, p in zip(child[1:], parent[:-1])]


def test_inference_overlaps_the_callers_cpu_work(tmp_path):
    # The fake BPU holds the GIL for 40 ms per frame, the caller's CPU step 40 ms: pipelined,
    # the child's frame k+1 runs during step k (timestamps from both processes, one clock).
    path = str(write_fake_bin(SHAPES_ONNX, tmp_path / 'slow.bin', 'float32', latency_ms=40.0))
    frames = nv12_frames(8)
    spec = BackendSpec('hbm_runtime', path, factory=fake_runtime_backend)
    with InferenceProcess(spec) as process:
        child, parent = [], []
        for frame in frames:  # serial: infer, then the step
            process.infer(frame)
            child.append(process.last_timing)
            parent.append(busy_cpu(0.04))
        serial = overlaps_s(child, parent)
        child, parent = [], []
        process.submit(frames[0], 0)
        for k in range(len(frames)):
            if k + 1 < len(frames):
                process.submit(frames[k + 1], k + 1)
            assert process.collect().tag == k
            child.append(process.last_timing)
            parent.append(busy_cpu(0.04))
        pipelined = overlaps_s(child, parent)
    assert all(c.finished_s - c.started_s >= 0.04 for c in child)
    assert max(serial) <= 0.0  # the measure sees no overlap where there can be none
    # Each overlap needs both processes scheduled within ~40 ms: most frames, not all.
    assert sum(s > 0.01 for s in pipelined) >= len(pipelined) // 2, pipelined


def test_drop_in_backend_for_the_pipeline():
    scene = generate_scene(np.random.default_rng(11), 640, 480)
    config = runtime_config({**default_values(), 'tracking': 'none'})
    names = list(SHAPE_CLASS_NAMES)
    in_process = SegmentationPipeline(create_backend('onnxruntime', ONNX, num_threads=1),
                                      'letterbox', names)
    expected = in_process.run(SourceImage(scene.image_bgr, 'bgr8'), config, False).result
    factory = ProcessBackendFactory(slots=2)
    with factory('onnxruntime', ONNX, num_threads=1, providers=('cpu',)) as process:
        pipeline = SegmentationPipeline(process, 'letterbox', names)
        result = pipeline.run(SourceImage(scene.image_bgr, 'bgr8'), config, False).result
    assert len(expected) > 0
    assert np.array_equal(result.boxes_xyxy, expected.boxes_xyxy)
    assert np.array_equal(result.class_ids, expected.class_ids)
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(result.masks, expected.masks))
