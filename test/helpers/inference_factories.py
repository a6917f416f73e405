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
Backend factories for the inference process's child: the runtime fakes, and misbehaviours.

Module-level functions, so that they pickle by reference into a spawned child. A misbehaviour
is triggered by the first value of the input tensor (MARKERS), so that one loaded process
serves good frames before and after a bad one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from typing import Any, Optional

from helpers.wrapped_backend import WrappedBackend
import numpy as np
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.layout import RawOutput

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fakes')
# The first input value that makes MisbehavingBackend.infer misbehave (exact in float32).
MARKERS = {'stall': 0.25, 'error': 0.5, 'exit': 0.75, 'reshape': 0.125}
# A C call that keeps the GIL, as the runtimes' inference does (test/fakes/fake_bpu_model.py).
_GIL_HOLDING_LIBC = ctypes.PyDLL(None)


def fake_runtime_backend(name: str, model_path: str, num_threads: int = 0,
                         providers: tuple[str, ...] = ('cpu',), **options: Any) -> Any:
    """create_backend with the board-runtime fakes (test/fakes) importable in this process."""
    if FAKES not in sys.path:
        sys.path.insert(0, FAKES)
    return create_backend(name, model_path, num_threads=num_threads, providers=providers,
                          **options)


def misbehaving_backend(name: str, model_path: str, num_threads: int = 0,
                        providers: tuple[str, ...] = ('cpu',), load_error: str = '',
                        load_sleep_s: float = 0.0, load_exit_code: Optional[int] = None,
                        stall_s: float = 3600.0, exit_code: int = 3) -> Any:
    """
    Return a real backend (fakes importable) that fails on request.

    At load: load_sleep_s sleeps first, load_exit_code ends the process, load_error 'value'
    raises ValueError and 'segv' crashes it. Per frame, by the tensor's first value
    (MARKERS): stall holds the GIL for stall_s, error raises ValueError, exit ends the process
    with exit_code, reshape returns an output of another shape.
    """
    time.sleep(load_sleep_s)
    if load_exit_code is not None:
        os._exit(load_exit_code)
    if load_error == 'value':
        raise ValueError(f'no such option for {model_path}')
    if load_error == 'segv':
        os.kill(os.getpid(), signal.SIGSEGV)
    return MisbehavingBackend(fake_runtime_backend(name, model_path, num_threads, providers),
                              stall_s, exit_code)


class MisbehavingBackend(WrappedBackend):
    """See misbehaving_backend."""

    def __init__(self, real: Any, stall_s: float, exit_code: int) -> None:
        super().__init__(real)
        self.name = real.name
        self._stall_s = stall_s
        self._exit_code = exit_code

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Run the real backend unless the first value is one of MARKERS."""
        first = float(np.asarray(tensor).reshape(-1)[0])
        if first == MARKERS['stall']:
            _GIL_HOLDING_LIBC.sleep(int(self._stall_s))
        elif first == MARKERS['error']:
            raise ValueError('marked frame')
        elif first == MARKERS['exit']:
            os._exit(self._exit_code)
        outputs = self._real.infer(tensor)
        if first == MARKERS['reshape']:
            outputs[0] = RawOutput(outputs[0].data[:, :-1], outputs[0].scale)
        return outputs
