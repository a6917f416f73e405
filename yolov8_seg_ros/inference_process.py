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
The inference backend in a child process, so that frame N+1 infers while frame N is decoded.

No rclpy. Both BPU runtimes hold the GIL for the whole inference: only another process overlaps
it with the decode. The child (multiprocessing, spawn: never fork a process that runs rclpy)
builds the backend once from a picklable BackendSpec; input tensors and raw heads go through a
preallocated ring of shared-memory slots, the pipe carries only a few numbers per frame.
Linux only (/dev/shm, prctl): the board and the host it is tested on.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
from dataclasses import dataclass, field
import math
import mmap
import multiprocessing
from multiprocessing import connection
from multiprocessing import shared_memory
import os
from pathlib import Path
import secrets
import signal
import threading
import time
from typing import Any, Callable, Mapping, NamedTuple, Optional
import weakref

import numpy as np

from yolov8_seg_ros.backends import Backend, create_backend
from yolov8_seg_ros.backends.base import BackendError, RuntimeUnavailableError
from yolov8_seg_ros.layout import as_raw_output, HeadLayout, RawOutput
from yolov8_seg_ros.preprocess import INPUT_FORMATS

SHM_DIR = Path('/dev/shm')  # where POSIX shared memory (shm_open) lives on Linux
SHM_PREFIX = 'yolov8_seg_'  # segment names: SHM_PREFIX + '<parent pid>_<random hex>'
_ALIGN = 64  # every region starts on a cache line
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Errors the child reports by class name; any other error comes back as BackendError.
_ERROR_CLASSES = {cls.__name__: cls for cls in (BackendError, RuntimeUnavailableError)}


class InferenceProcessError(RuntimeError):
    """The inference process cannot go on (died, stuck, closed): fatal for this object."""


class InferenceProcessDiedError(InferenceProcessError):
    """The child process exited; the message has its exit code or signal."""


class InferenceProcessStalledError(InferenceProcessError):
    """The child gave no answer within the timeout (stuck in the runtime)."""


class InferenceProcessClosedError(InferenceProcessError):
    """close() was called (or the object was collected); nothing can be submitted."""


class InferenceQueueError(RuntimeError):
    """A call out of order: submit with every slot busy, collect with nothing submitted."""


@dataclass(frozen=True)
class BackendSpec:
    """
    How the child builds its backend: the arguments the node gives create_backend.

    build() calls factory(name, model_path, num_threads=, providers=, **options); options
    carries any further keywords. factory must pickle by reference (a module-level function
    or class), as must the option values.
    """

    name: str
    model_path: str
    num_threads: int = 0
    providers: tuple[str, ...] = ('cpu',)
    options: Mapping[str, Any] = field(default_factory=dict)
    factory: Callable[..., Backend] = create_backend

    def build(self) -> Backend:
        """Load the backend (in the calling process); raises what the factory raises."""
        return self.factory(self.name, self.model_path, num_threads=self.num_threads,
                            providers=tuple(self.providers), **dict(self.options))


@dataclass(frozen=True)
class OutputSpec:
    """One raw output as the model produces it on every frame; scale as in RawOutput."""

    shape: tuple[int, ...]
    dtype: str  # numpy dtype string, e.g. '<f4', '<i4'
    scale: Optional[np.ndarray]

    @property
    def nbytes(self) -> int:
        """Bytes of one output of this shape and dtype."""
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class BackendDescription:
    """What the child reports after loading: the Backend attributes and the output specs."""

    name: str
    model_path: str
    runtime_version: str
    input_wh: tuple[int, int]
    input_format: str
    warnings: tuple[str, ...]
    layout: HeadLayout
    input_bytes: int  # size of the model's input tensor (the shared-memory input region)
    outputs: tuple[OutputSpec, ...]
    scheduling: Mapping[str, str] = field(default_factory=dict)  # the BPU scheduling applied


class Collected(NamedTuple):
    """One frame's answer: the tag given to submit and the raw outputs in the model's order."""

    tag: Any
    outputs: list[RawOutput]


class InferenceTiming(NamedTuple):
    """time.monotonic() of one frame (system-wide on Linux, so comparable across processes)."""

    submitted_s: float  # submit() in the parent
    started_s: float  # backend.infer called in the child
    finished_s: float  # outputs written in the child
    collected_s: float  # collect() returned in the parent


class _Pending(NamedTuple):
    seq: int
    slot: int
    tag: Any
    submitted_s: float


class _SlotViews:
    """Numpy views of the ring: per slot a byte input region and one array per output."""

    def __init__(self, mapping: mmap.mmap, description: BackendDescription, slots: int) -> None:
        input_bytes, offsets, slot_bytes = slot_layout(description)
        self.inputs: list[np.ndarray] = []
        self.outputs: list[list[np.ndarray]] = []
        for slot in range(slots):
            base = slot * slot_bytes
            self.inputs.append(np.ndarray((input_bytes,), np.uint8, mapping, base))
            self.outputs.append([np.ndarray(spec.shape, np.dtype(spec.dtype), mapping,
                                            base + offset)
                                 for spec, offset in zip(description.outputs, offsets)])

    def input_view(self, slot: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        """Return the slot's input region seen as an array of shape and dtype (must fit)."""
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        return self.inputs[slot][:nbytes].view(np.dtype(dtype)).reshape(shape)


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def slot_layout(description: BackendDescription) -> tuple[int, tuple[int, ...], int]:
    """(input bytes, offset of each output in a slot, bytes per slot), all 64-byte aligned."""
    offset = _aligned(description.input_bytes)
    offsets = []
    for spec in description.outputs:
        offsets.append(offset)
        offset += _aligned(spec.nbytes)
    return description.input_bytes, tuple(offsets), offset


def probe_tensor(input_wh: tuple[int, int], input_format: str) -> np.ndarray:
    """Return a neutral input of the format: grey NV12 bytes or a zero float32 NCHW tensor."""
    width, height = input_wh
    if input_format == 'nv12':
        return np.full(width * height * 3 // 2, 128, dtype=np.uint8)
    if input_format == 'rgb_nchw':
        return np.zeros((1, 3, height, width), dtype=np.float32)
    raise BackendError(f'input format {input_format!r}: the inference process takes one of '
                       f'{INPUT_FORMATS}')


def describe_backend(backend: Backend) -> BackendDescription:
    """Run one neutral frame to learn the outputs' shapes, dtypes and scales."""
    probe = probe_tensor(tuple(backend.input_wh), backend.input_format)
    outputs = [as_raw_output(o) for o in backend.infer(probe)]
    specs = tuple(OutputSpec(tuple(int(d) for d in o.data.shape), o.data.dtype.str,
                             None if o.scale is None else np.array(o.scale, copy=True))
                  for o in outputs)
    return BackendDescription(str(backend.name), str(backend.model_path),
                              str(backend.runtime_version),
                              (int(backend.input_wh[0]), int(backend.input_wh[1])),
                              str(backend.input_format), tuple(backend.warnings), backend.layout,
                              int(probe.nbytes), specs,
                              {str(k): str(v) for k, v in
                               (getattr(backend, 'scheduling', None) or {}).items()})


def map_segment(name: str, size: int) -> mmap.mmap:
    """Map a shared-memory segment by name without registering it with a resource tracker."""
    fd = os.open(SHM_DIR / name, os.O_RDWR)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def exit_status(exitcode: Optional[int]) -> str:
    """'killed by SIGKILL (exit code -9)' or 'exited with code 3' from a Process.exitcode."""
    if exitcode is None:
        return 'still running'
    if exitcode < 0:
        try:
            return f'killed by {signal.Signals(-exitcode).name} (exit code {exitcode})'
        except ValueError:
            return f'killed by signal {-exitcode} (exit code {exitcode})'
    return f'exited with code {exitcode}'


def _error_message(error: BaseException) -> tuple[Optional[str], str]:
    """(name of the backends.base class it is, or None; its text) for the pipe."""
    for cls in type(error).__mro__:
        if _ERROR_CLASSES.get(cls.__name__) is cls:
            return cls.__name__, str(error)
    return None, f'{type(error).__name__}: {error}'


def _rebuild_error(class_name: Optional[str], text: str) -> BackendError:
    return _ERROR_CLASSES.get(class_name or '', BackendError)(text)


# The child process.
def _exit_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the parent ends, even inside a runtime call."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl (not Linux): the pipe's EOF still ends it
        pass
    if os.getppid() != parent_pid:  # the parent ended before prctl took effect
        os._exit(1)


def _serve(conn: connection.Connection, spec: BackendSpec, parent_pid: int) -> None:
    """Child main: load, describe, attach to the ring, then infer slot by slot until stop."""
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent_pid)
    try:
        backend = spec.build()
        description = describe_backend(backend)
    except Exception as error:  # any load failure is reported with its reason
        conn.send(('load_error', *_error_message(error)))
        return
    conn.send(('ready', description))
    try:
        kind, name, slots, size = conn.recv()
    except (EOFError, ValueError, TypeError):  # the parent gave up (or is gone)
        return
    if kind != 'attach':
        return
    views = _SlotViews(map_segment(name, size), description, slots)
    try:
        conn.send(('attached', os.getpid()))
        _infer_until_stopped(conn, backend, views, description)
    except (EOFError, OSError):  # the parent is gone (or closed the pipe): nothing to answer
        return


def _infer_until_stopped(conn: connection.Connection, backend: Backend, views: _SlotViews,
                         description: BackendDescription) -> None:
    while True:
        message = conn.recv()
        if message[0] == 'stop':
            return
        _, slot, seq, shape, dtype = message
        started = time.monotonic()
        try:
            outputs = backend.infer(views.input_view(slot, shape, dtype))
            _write_outputs(outputs, views.outputs[slot], description)
        except Exception as error:  # the frame fails, as in process: the parent re-raises it
            conn.send(('error', seq, started, time.monotonic(), *_error_message(error)))
            continue
        conn.send(('done', seq, started, time.monotonic()))


def _write_outputs(outputs: list[Any], slot_outputs: list[np.ndarray],
                   description: BackendDescription) -> None:
    if len(outputs) != len(description.outputs):
        raise BackendError(f'model {description.model_path!r} returned {len(outputs)} outputs, '
                           f'{len(description.outputs)} at load')
    for index, (item, spec, target) in enumerate(zip(outputs, description.outputs,
                                                     slot_outputs)):
        raw = as_raw_output(item)
        same_scale = (raw.scale is None if spec.scale is None
                      else raw.scale is not None and np.array_equal(raw.scale, spec.scale))
        if raw.data.shape != target.shape or raw.data.dtype != target.dtype or not same_scale:
            raise BackendError(f'model {description.model_path!r} output {index}: '
                               f'{raw.data.dtype} {raw.data.shape}, at load {spec.dtype} '
                               f'{spec.shape} (shape, dtype and scales must stay fixed)')
        np.copyto(target, raw.data)


# The parent side.
class _Resources:
    """What close() and the garbage collector release; holds no reference to its owner."""

    def __init__(self, stop_timeout_s: float) -> None:
        self.stop_timeout_s = stop_timeout_s
        self.process: Any = None
        self.conn: Optional[connection.Connection] = None
        self.segment: Optional[shared_memory.SharedMemory] = None
        self.mapping: Optional[mmap.mmap] = None
        self.views: Optional[_SlotViews] = None
        self.owner: Optional[threading.Thread] = None
        self.release_owner = threading.Event()
        self.exitcode: Optional[int] = None


def _shutdown(res: _Resources) -> None:
    """Stop the child (ask, then SIGTERM, then SIGKILL), reap it and unlink the segment."""
    process = res.process
    if process is not None and process.pid is not None:
        if process.exitcode is None and res.conn is not None:
            with contextlib.suppress(OSError, ValueError):  # the child or the pipe is gone
                res.conn.send(('stop',))
            process.join(res.stop_timeout_s)
        if process.exitcode is None:  # stuck in the runtime: SIGTERM ends even a native call
            process.terminate()
            process.join(1.0)
        if process.exitcode is None:
            process.kill()
            # Bounded: a process in uninterruptible sleep (a driver call) dies when it returns.
            process.join(5.0)
        res.exitcode = process.exitcode
        if process.exitcode is not None:
            process.close()
    res.process = None
    if res.conn is not None:
        res.conn.close()
        res.conn = None
    # Never mmap.close(): NumPy (1.21 at least) holds no buffer export for an array on it, so
    # a view still held from collect(copy=False) would point at unmapped memory. The mapping
    # goes with its last reference: now, or with the caller's last view.
    res.views = None
    res.mapping = None
    if res.segment is not None:
        with contextlib.suppress(FileNotFoundError):  # removed behind our back: nothing to free
            res.segment.unlink()
        res.segment = None
    res.release_owner.set()
    if res.owner is not None and res.owner is not threading.current_thread():
        res.owner.join(1.0)
    res.owner = None


def _own_child(process: Any, started: threading.Event, release: threading.Event,
               errors: list[Exception]) -> None:
    """
    Start the child and live as long as it should.

    The kernel's parent-death signal follows the thread that started the child: started from
    this thread, the child is killed when the whole process ends, not when a caller's thread does.
    """
    try:
        process.start()
    except Exception as error:  # handed to the constructor, which raises it
        errors.append(error)
        return
    finally:
        started.set()
    release.wait()


class _ChildLink:
    """
    A spawned child process and its pipe: start, receive without hanging, fail once, close.

    The liveness half of InferenceProcess: every wait on the child also watches its exit, so
    a dead or stuck child is an InferenceProcessError, never a hang; close() stops and reaps it.
    """

    def __init__(self, spec: BackendSpec, stop_timeout_s: float) -> None:
        self.spec = spec
        self._res = _Resources(float(stop_timeout_s))
        self._finalizer = weakref.finalize(self, _shutdown, self._res)
        self._failure: Optional[InferenceProcessError] = None
        self.pid: Optional[int] = None

    def _start(self, spec: BackendSpec, load_timeout_s: float) -> BackendDescription:
        res = self._res
        context = multiprocessing.get_context('spawn')
        parent_conn, child_conn = context.Pipe(duplex=True)
        res.conn = parent_conn
        res.process = context.Process(target=_serve, args=(child_conn, spec, os.getpid()),
                                      name=f'yolov8_seg_inference {spec.model_path}',
                                      daemon=True)
        started, errors = threading.Event(), []
        res.owner = threading.Thread(target=_own_child, name='yolov8_seg_inference_owner',
                                     args=(res.process, started, res.release_owner, errors),
                                     daemon=True)
        res.owner.start()
        started.wait()
        child_conn.close()  # the child's end lives in the child only: its exit is our EOF
        if errors:
            raise errors[0]
        self.pid = res.process.pid
        try:
            message = self._receive(load_timeout_s, 'loading the model')
            if message[0] == 'load_error':
                raise _rebuild_error(message[1], message[2])
            description = self._attach(message[1], load_timeout_s)
        except InferenceProcessError as error:  # configure fails with the reason
            raise BackendError(f'could not load {spec.model_path!r} in a separate process: '
                               f'{error}') from error
        return description

    def _attach(self, description: BackendDescription,
                timeout_s: float) -> BackendDescription:
        """Act on the loaded child's description (InferenceProcess maps the shared memory)."""
        return description

    @property
    def closed(self) -> bool:
        """Return True once close() ran (or the constructor failed)."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Stop the child (kill it if it does not stop), reap it, unlink the shared memory."""
        self._finalizer()

    def __enter__(self) -> InferenceProcess:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def exitcode(self) -> Optional[int]:
        """Return the child's exit code once it ended (negative: its signal), else None."""
        process = self._res.process
        return self._res.exitcode if process is None else process.exitcode

    # Internals.
    def _who(self) -> str:
        return f'inference process {self.pid} ({self.spec.name}, {self.spec.model_path!r})'

    def _raise_if_unusable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self.closed:
            raise InferenceProcessClosedError(f'{self._who()} is closed')

    def _fail(self, error: InferenceProcessError) -> InferenceProcessError:
        if self._failure is None:
            self._failure = error
        return error

    def _died_error(self) -> InferenceProcessError:
        if self.closed:
            return InferenceProcessClosedError(f'{self._who()} was closed')
        process = self._res.process
        process.join(1.0)  # it has exited: reap it (no zombie) and read its status
        return InferenceProcessDiedError(f'{self._who()} died: {exit_status(process.exitcode)}')

    def _receive(self, wait_s: float, waiting_for: str) -> tuple[Any, ...]:
        """Return the child's next message; raise Died, Stalled or Closed instead of hanging."""
        res = self._res
        conn, process = res.conn, res.process
        if conn is None or process is None:
            raise self._fail(self._died_error())
        deadline = time.monotonic() + wait_s
        try:
            while not conn.poll(0):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._fail(InferenceProcessStalledError(
                        f'{self._who()}: no answer within {wait_s:g} s while {waiting_for} '
                        '(stuck)'))
                ready = connection.wait([conn, process.sentinel], remaining)
                if process.sentinel in ready and not conn.poll(0):
                    raise self._fail(self._died_error())
            return conn.recv()
        except (EOFError, OSError, ValueError) as error:  # a dead child or a closed pipe
            raise self._fail(self._died_error()) from error


class InferenceProcess(_ChildLink):
    """
    A Backend whose model runs in a child process; submit/collect overlap it with the caller.

    The constructor blocks until the child has loaded the model (BackendError with the child's
    reason when it cannot). infer() is the Backend method (one frame, submit then collect);
    submit() and collect() keep up to `slots` frames in flight and return them in submission
    order. submit/collect/release/infer belong to one thread; check() and close() may be
    called from any. After InferenceProcessError every call but check() and close() raises it.
    """

    def __init__(self, spec: BackendSpec, slots: int = 2, load_timeout_s: float = 120.0,
                 stall_timeout_s: float = 10.0, stop_timeout_s: float = 2.0) -> None:
        if slots < 1:
            raise ValueError(f'slots {slots}: expected at least 1')
        super().__init__(spec, stop_timeout_s)
        self.slots = int(slots)
        self.stall_timeout_s = float(stall_timeout_s)
        self.last_timing: Optional[InferenceTiming] = None
        self._pending: collections.deque[_Pending] = collections.deque()
        self._free: collections.deque[int] = collections.deque(range(self.slots))
        self._held: Optional[int] = None
        self._next_seq = 0
        self.shm_name: Optional[str] = None
        try:
            self.description = self._start(spec, float(load_timeout_s))
        except BaseException:
            self._finalizer()
            raise
        description = self.description
        self.name = description.name
        self.model_path = description.model_path
        self.runtime_version = description.runtime_version
        self.input_wh = description.input_wh
        self.input_format = description.input_format
        self.warnings = description.warnings
        self.layout = description.layout
        self.scheduling = dict(description.scheduling)

    def _attach(self, description: BackendDescription,
                timeout_s: float) -> BackendDescription:
        """Create the ring for the reported outputs and have the child map it."""
        res = self._res
        for spec in description.outputs:
            if spec.scale is not None:
                spec.scale.flags.writeable = False  # shared by every frame's RawOutput
        _, _, slot_bytes = slot_layout(description)
        self.shm_name = f'{SHM_PREFIX}{os.getpid()}_{secrets.token_hex(6)}'
        res.segment = shared_memory.SharedMemory(self.shm_name, create=True,
                                                 size=slot_bytes * self.slots)
        res.segment.close()  # its own mapping; ours below outlives views handed out
        res.mapping = map_segment(self.shm_name, slot_bytes * self.slots)
        res.views = _SlotViews(res.mapping, description, self.slots)
        for outputs in res.views.outputs:
            for array in outputs:
                array.flags.writeable = False  # the child writes them
        res.conn.send(('attach', self.shm_name, self.slots, slot_bytes * self.slots))
        self._receive(timeout_s, 'attaching the shared memory')
        return description

    # The Backend interface.
    def infer(self, tensor: np.ndarray, copy: bool = True) -> list[RawOutput]:
        """
        Run one frame and return its outputs (Backend.infer).

        copy as in collect(): copies by default; views are valid until the next infer(),
        collect(), release() or close(), and save a copy of every head (about 9 MB at 640x640).
        """
        if self._pending:
            raise InferenceQueueError(f'infer: {len(self._pending)} submitted frames are not '
                                      'collected yet; infer() does not mix with submit()')
        if self._held is not None:
            self.release()
        self.submit(tensor)
        return self.collect(copy=copy).outputs

    # The two-stage interface.
    @property
    def pending(self) -> int:
        """Frames submitted and not yet collected."""
        return len(self._pending)

    @property
    def free_slots(self) -> int:
        """Slots submit() can fill now (not in flight, not held by collect(copy=False))."""
        return len(self._free)

    def submit(self, tensor: np.ndarray, tag: Any = None) -> None:
        """
        Copy one input tensor into a free slot and start its inference; returns at once.

        Raises InferenceQueueError when every slot is busy (collect or release first), and
        BackendError when the tensor does not fit the model's input region. tag is returned
        with the frame by collect() and never leaves this process.
        """
        self._raise_if_unusable()
        if not self._free:
            raise InferenceQueueError(
                f'submit: all {self.slots} slots are busy ({len(self._pending)} in flight, '
                f'{int(self._held is not None)} held by collect(copy=False)): collect() or '
                'release() first')
        array = np.asarray(tensor)
        capacity = self.description.input_bytes
        if array.dtype.hasobject or array.nbytes > capacity:
            raise BackendError(
                f'{self.name} input for {self.model_path!r}: {array.dtype} {array.shape} '
                f'({array.nbytes} bytes); the inference process takes at most {capacity} bytes '
                f'(the {self.input_format} tensor of {self.input_wh[0]}x{self.input_wh[1]})')
        slot = self._free.popleft()
        np.copyto(self._res.views.input_view(slot, array.shape, array.dtype.str), array)
        seq = self._next_seq
        try:
            self._res.conn.send(('infer', slot, seq, array.shape, array.dtype.str))
        except (OSError, ValueError) as error:  # the child is gone: the pipe is broken
            self._free.appendleft(slot)
            raise self._fail(self._died_error()) from error
        self._next_seq += 1
        self._pending.append(_Pending(seq, slot, tag, time.monotonic()))

    def collect(self, timeout_s: Optional[float] = None, copy: bool = True) -> Collected:
        """
        Wait for the oldest submitted frame; return its tag and raw outputs.

        copy=True returns writable copies and frees the slot at once. copy=False returns
        read-only views into the slot, valid until release(), the next collect() or close();
        the slot stays busy until then. Waits at most timeout_s (default stall_timeout_s), then
        raises InferenceProcessStalledError; InferenceProcessDiedError when the child exited.
        A frame the backend failed raises BackendError (the child's text); the process goes on.
        """
        self._raise_if_unusable()
        if self._held is not None:
            self.release()
        if not self._pending:
            raise InferenceQueueError('collect: no frame submitted')
        frame = self._pending[0]
        wait_s = self.stall_timeout_s if timeout_s is None else float(timeout_s)
        message = self._receive(wait_s, f'frame {frame.seq} (submitted '
                                f'{time.monotonic() - frame.submitted_s:.1f} s ago)')
        if message[0] not in ('done', 'error') or message[1] != frame.seq:
            raise self._fail(InferenceProcessError(
                f'{self._who()}: answered {message[:2]!r} while frame {frame.seq} was '
                'expected'))
        self._pending.popleft()
        self.last_timing = InferenceTiming(frame.submitted_s, message[2], message[3],
                                           time.monotonic())
        if message[0] == 'error':
            self._free.append(frame.slot)
            raise _rebuild_error(message[4], message[5])
        scales = [spec.scale for spec in self.description.outputs]
        views = self._res.views.outputs[frame.slot]
        if copy:
            outputs = [RawOutput(np.array(view), scale) for view, scale in zip(views, scales)]
            self._free.append(frame.slot)
        else:
            outputs = [RawOutput(view, scale) for view, scale in zip(views, scales)]
            self._held = frame.slot
        return Collected(frame.tag, outputs)

    def release(self) -> None:
        """Free the slot whose views the last collect(copy=False) returned (no-op if none)."""
        if self._held is not None:
            self._free.append(self._held)
            self._held = None

    # Health and shutdown.
    def check(self) -> Optional[str]:
        """
        Return why this process cannot go on (died, stuck), or None while healthy; never blocks.

        Stuck: the oldest frame in flight has had no answer for more than stall_timeout_s.
        """
        if self._failure is not None:
            return str(self._failure)
        res = self._res
        process, conn = res.process, res.conn
        if process is None or conn is None:
            return None  # closed on purpose
        try:
            if connection.wait([process.sentinel], 0):
                return str(self._died_error())
            oldest = self._pending[0] if self._pending else None
            waited_s = 0.0 if oldest is None else time.monotonic() - oldest.submitted_s
            if waited_s > self.stall_timeout_s and not conn.poll(0):
                return (f'{self._who()}: no answer for frame {oldest.seq} after {waited_s:.1f} s '
                        f'(stuck; timeout {self.stall_timeout_s:g} s)')
        except (OSError, ValueError):  # closed by another thread meanwhile
            return None
        return None


class ProcessBackendFactory:
    """
    A backend factory with create_backend's signature that returns an InferenceProcess.

    factory builds the backend in the child and must pickle by reference.
    """

    def __init__(self, factory: Callable[..., Backend] = create_backend, slots: int = 2,
                 load_timeout_s: float = 120.0, stall_timeout_s: float = 10.0,
                 stop_timeout_s: float = 2.0) -> None:
        self.factory = factory
        self.slots = slots
        self.load_timeout_s = load_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.stop_timeout_s = stop_timeout_s

    def __call__(self, name: str, model_path: str, num_threads: int = 0,
                 providers: tuple[str, ...] = ('cpu',), **options: Any) -> InferenceProcess:
        """Start the child and load model_path there; raises BackendError with its reason."""
        spec = BackendSpec(name, model_path, num_threads, tuple(providers), options,
                           self.factory)
        return InferenceProcess(spec, self.slots, self.load_timeout_s, self.stall_timeout_s,
                                self.stop_timeout_s)
