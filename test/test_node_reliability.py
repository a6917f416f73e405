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
The node under bad input, faults and signals, seen by a separate client over DDS.

Every bad-frame kind is skipped with its own reason and the next good frame is answered; no
sequence of bad frames can stop the worker; decompression bombs cost no memory; a dead or stuck
worker is reported and ends the process; signals at awkward moments still exit 0.
"""

from __future__ import annotations

import array
from pathlib import Path
import signal
import struct
import sys
import time
import zlib

import cv2
from diagnostic_msgs.msg import DiagnosticStatus
from helpers.bags import COMPRESSED, IMAGE
from helpers.fake_runtime import FAKES, write_fake_bin
from helpers.models import SHAPES_ONNX
from helpers.node_process import NodeClient, NodeProcess, SHAPES_NAMES
from helpers.ros_graph import ros_graph
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from test_node_bags import scenes

HELPERS = Path(__file__).resolve().parent / 'helpers'
SHAPES_PARAMS = {'model_path': str(SHAPES_ONNX), 'class_names_file': str(SHAPES_NAMES),
                 'image_reliability': 'reliable', 'diagnostics_period': 0.1}
GOOD_BGR = scenes((640, 480), count=1)[0].image_bgr


def ros_image(encoding: str, width: int, height: int, step: int, data: bytes,
              sec: int) -> Image:
    """Build a sensor_msgs/Image with exactly these fields (bad ones allowed)."""
    msg = Image(encoding=encoding, width=width, height=height, step=step)
    msg.header.stamp.sec = sec
    msg.header.frame_id = 'camera'
    buffer = array.array('B')
    buffer.frombytes(data)
    msg.data = buffer
    return msg


def ros_compressed(fmt: str, data: bytes, sec: int) -> CompressedImage:
    """Build a sensor_msgs/CompressedImage with exactly these fields."""
    msg = CompressedImage(format=fmt)
    msg.header.stamp.sec = sec
    buffer = array.array('B')
    buffer.frombytes(data)
    msg.data = buffer
    return msg


def good_raw(sec: int) -> Image:
    return ros_image('bgr8', 640, 480, 640 * 3, GOOD_BGR.tobytes(), sec)


def encoded(ext: str, image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def png_claiming(width: int, height: int) -> bytes:
    """Build a small PNG whose header claims width x height (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack('>I', len(body)) + kind + body +
                struct.pack('>I', zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b'\0' * (1 + min(width, 4096)) * 64, 9)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', rows) + \
        chunk(b'IEND', b'')


def jpeg_claiming(width: int, height: int) -> bytes:
    """Build a real small JPEG whose frame header is patched to claim width x height."""
    data = bytearray(encoded('.jpg', GOOD_BGR[:16, :16]))
    sof = data.index(b'\xff\xc0')
    data[sof + 5:sof + 9] = struct.pack('>HH', height, width)
    return bytes(data)


def memory_mb(pid: int, field: str) -> float:
    """Return a memory field of /proc/PID/status (VmHWM: peak resident, VmRSS: now) in MiB."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith(f'{field}:'):
            return int(line.split()[1]) / 1024.0
    raise AssertionError(f'no {field} for process {pid}')


def settled(values: dict[str, str]) -> bool:
    """Every received frame is in exactly one bucket (nothing waiting or in flight)."""
    names = ('frames_processed', 'frames_dropped', 'frames_bad', 'frames_failed')
    buckets = sum(int(values[name]) for name in names)
    return buckets == int(values['frames_received']) and values['frames_in_progress'] == '0'


def run_sequence(client: NodeClient, frames: list, expected_bad: int, good: int) -> dict:
    """Send frames one by one (waiting for each to be counted); returns the final counters."""
    done = int(client.values_of(client.diagnostics[-1])['frames_received']) \
        if client.diagnostics else 0
    for msg in frames:
        client.publisher.publish(msg)
        done += 1
        assert client.graph.spin_until(
            lambda d=done: bool(client.diagnostics) and int(client.values_of(
                client.diagnostics[-1])['frames_received']) >= d
            and settled(client.values_of(client.diagnostics[-1])), 30.0), \
            (client.values_of(client.diagnostics[-1]), client.node.output())
    values = client.values_of(client.diagnostics[-1])
    assert settled(values), values
    assert (int(values['frames_bad']), int(values['frames_processed'])) == (expected_bad, good), \
        values
    assert values['frames_failed'] == '0', values
    return values


@pytest.mark.parametrize('sequence', ['corrupt jpeg, empty compressed',
                                      'bad step, 8000x2 nv12'])
def test_no_sequence_of_bad_frames_stops_the_worker(sequence):
    # Each pair killed the worker of the previous release: a warning then an error logged from
    # one call site changed the severity, rclpy raised inside the error handler.
    compressed = sequence.startswith('corrupt')
    params = {**SHAPES_PARAMS, 'input_transport': 'compressed' if compressed else 'raw'}
    node = NodeProcess(f'/zombie_{int(compressed)}', params)
    try:
        with ros_graph('zombie_client') as graph:
            client = NodeClient(graph, node, 'image' if compressed else 'image_raw',
                                COMPRESSED if compressed else IMAGE)
            client.wait_ready()
            if compressed:
                jpeg = encoded('.jpg', GOOD_BGR)
                frames = [ros_compressed('jpeg', jpeg[:len(jpeg) // 2], 1),
                          ros_compressed('jpeg', b'', 2), ros_compressed('jpeg', jpeg, 3)]
                bad, good = 2, 1
            else:
                nv12 = np.full((3, 8000), 128, np.uint8).tobytes()
                frames = [ros_image('bgr8', 640, 480, 100, GOOD_BGR.tobytes(), 1),
                          ros_image('nv12', 8000, 2, 8000, nv12, 2), good_raw(3)]
                bad, good = 1, 2  # 8000x2 is a valid frame: processed
            run_sequence(client, frames, bad, good)
            detections = len(client.detections)
            # Again: the same kinds are now throttled, and still nothing breaks.
            run_sequence(client, frames, 2 * bad, 2 * good)
            assert len(client.detections) == detections + good
            assert client.detections[-1].header.stamp.sec == 3
        assert node.stop() == 0
        output = node.output()
        assert 'Traceback' not in output and 'severity' not in output, output
    finally:
        node.close()


def bad_raw_frames() -> list[tuple[str, Image]]:
    """Return (expected reason, frame) for every kind of unusable raw frame."""
    yuv = np.zeros(641 * 480 * 2, np.uint8).tobytes()
    frames = [(f'{encoding} image 641x480: width must be even',
               ros_image(encoding, 641, 480, 641 * 2, yuv, 10))
              for encoding in ('yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv')]
    frames += [
        ("unsupported encoding 'NV12'", ros_image('NV12', 640, 480, 640, bytes(640 * 720), 11)),
        ("unsupported encoding 'bayer_rggb8'",
         ros_image('bayer_rggb8', 640, 480, 640, bytes(640 * 480), 12)),
        ('more than max_image_pixels', ros_image('mono8', 100000, 100000, 100000, b'', 13)),
        # 1x1 with a 400 MB step: once zero-padded to step x rows (4.5 GB at 10 rows).
        ('data has 1 bytes, expected 800000000',
         ros_image('mono8', 1, 2, 400_000_000, b'\x00', 14)),
        ('step 100 is smaller than one row', ros_image('bgr8', 640, 480, 100, bytes(48000), 15)),
        ('empty image', ros_image('mono8', 0, 0, 0, b'', 16)),
    ]
    return frames


def bad_compressed_frames() -> list[tuple[str, CompressedImage]]:
    jpeg = encoded('.jpg', GOOD_BGR)
    png = encoded('.png', GOOD_BGR)
    return [
        ('no data', ros_compressed('jpeg', b'', 20)),
        ('data is bmp', ros_compressed('jpeg', encoded('.bmp', GOOD_BGR[:64, :64]), 21)),
        ('data is webp', ros_compressed('webp', encoded('.webp', GOOD_BGR[:64, :64]), 22)),
        ('jpeg data is truncated', ros_compressed('jpeg', jpeg[:len(jpeg) // 2], 23)),
        ('png data is truncated', ros_compressed('png', png[:len(png) // 2], 24)),
        ('jpeg 32767x32767: 1073676289 pixels is more than max_image_pixels',
         ros_compressed('jpeg', jpeg_claiming(32767, 32767), 25)),
        ('png 32000x32000: 1024000000 pixels is more than max_image_pixels',
         ros_compressed('png', png_claiming(32000, 32000), 26)),
        ('format string of 1000000 characters', ros_compressed('j' * 1_000_000, jpeg, 27)),
    ]


@pytest.mark.parametrize('transport', ['raw', 'compressed'])
def test_every_bad_frame_kind_is_skipped_with_its_reason_and_costs_no_memory(transport):
    raw = transport == 'raw'
    bad = bad_raw_frames() if raw else bad_compressed_frames()
    node = NodeProcess(f'/bad_kinds_{transport}', {**SHAPES_PARAMS, 'input_transport': transport})
    try:
        with ros_graph('bad_kinds_client') as graph:
            client = NodeClient(graph, node, 'image_raw' if raw else 'image',
                                IMAGE if raw else COMPRESSED)
            client.wait_ready()
            jpeg = encoded('.jpg', GOOD_BGR)
            good = good_raw(1) if raw else ros_compressed('jpeg', jpeg, 1)
            run_sequence(client, [good], 0, 1)
            rss_before = memory_mb(node.process.pid, 'VmRSS')
            frames = [msg for _, msg in bad]
            if not raw:  # a PNG labelled jpeg is decoded by its data, with a note
                frames.append(ros_compressed('jpeg', encoded('.png', GOOD_BGR), 2))
            frames.append(good)
            extra_good = 1 if raw else 2
            run_sequence(client, frames, len(bad), 1 + extra_good)
            assert client.detections[-1].header.stamp.sec == 1
            grown = memory_mb(node.process.pid, 'VmRSS') - rss_before
        output = node.output()
        for reason, _ in bad:
            assert reason in output, (reason, output)
        if not raw:
            assert "format 'jpeg' but the data is png: decoded as png" in output
        assert 'libpng error' not in output and 'Premature end' not in output, output
        assert 'Traceback' not in output
        # No bomb was decoded or padded: the node's memory stayed where it was.
        assert grown < 100.0, f'RSS grew by {grown:.0f} MiB'
        assert node.stop() == 0
    finally:
        node.close()


def test_a_64_mb_frame_costs_less_than_1_gb():
    side = 8192  # mono8 8192x8192: a 64 MiB payload, exactly the default max_image_pixels
    big = ros_image('mono8', side, side, side,
                    cv2.resize(cv2.cvtColor(GOOD_BGR, cv2.COLOR_BGR2GRAY), (side, side),
                               interpolation=cv2.INTER_NEAREST).tobytes(), 5)
    node = NodeProcess('/big_frame', SHAPES_PARAMS)
    try:
        with ros_graph('big_frame_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            client.wait_ready()
            before = memory_mb(node.process.pid, 'VmHWM')
            detections = client.send_and_wait(ros_image_as_recorded(big), timeout_s=60.0)
            assert detections.header.stamp.sec == 5
            peak = memory_mb(node.process.pid, 'VmHWM')
        assert peak < 1024.0, f'peak RSS {peak:.0f} MiB (before the frame: {before:.0f} MiB)'
        assert node.stop() == 0
    finally:
        node.close()


class ros_image_as_recorded:  # noqa: N801 - a tiny adapter for NodeClient.send_and_wait
    """Wrap an rclpy message so NodeClient.send publishes it as it is."""

    def __init__(self, msg) -> None:
        self.raw = msg


@pytest.mark.parametrize('case', ['dead', 'stuck'])
def test_a_dead_or_stuck_worker_is_reported_and_ends_the_process(case):
    fault = {'dead': 'die:1', 'stuck': 'hang:1'}[case]
    executable = [sys.executable, str(HELPERS / 'faulty_backend_node.py')]
    node = NodeProcess(f'/fault_{case}', {**SHAPES_PARAMS, 'worker_stall_timeout': 2.0},
                       executable=executable, extra_env={'YOLOV8_SEG_TEST_FAULT': fault})
    try:
        with ros_graph('fault_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            client.wait_ready()
            client.send_and_wait(ros_image_as_recorded(good_raw(1)))
            for sec in range(2, 6):  # frames keep coming; none is answered any more
                client.publisher.publish(good_raw(sec))
                graph.spin_until(lambda: False, 0.3)
            assert graph.spin_until(lambda: node.process.poll() is not None, 30.0), \
                node.output()
            errors = [d for d in client.diagnostics
                      if d.status[0].level == DiagnosticStatus.ERROR]
        assert node.process.returncode == 1, node.output()
        output = node.output()
        fatal = [line for line in output.splitlines() if 'FATAL' in line]
        expected = 'worker thread has stopped' if case == 'dead' else 'no frame finished'
        assert len(fatal) == 1 and expected in fatal[0], output
        assert errors and expected in errors[-1].status[0].message
    finally:
        node.close()


def wait_for_sigterm_handler(pid: int, timeout_s: float) -> bool:
    """Wait until process pid catches SIGTERM (its SigCgt mask in /proc/PID/status)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = Path(f'/proc/{pid}/status').read_text()
        caught = next(line for line in status.splitlines() if line.startswith('SigCgt:'))
        if int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
            return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize('case', ['SIGINT again every 50 ms', 'SIGTERM during model load',
                                  'SIGTERM with a frame in flight'])
def test_signals_at_awkward_moments_exit_0_without_errors(tmp_path, case):
    params = dict(SHAPES_PARAMS)
    if case == 'SIGTERM with a frame in flight':
        slow = write_fake_bin(SHAPES_ONNX, tmp_path / 'slow.bin', latency_ms=800.0)
        params.update(model_path=str(slow), backend='hobot_dnn')
    node = NodeProcess(f'/signals_{case.split()[0].lower()}_{len(case)}', params,
                       extra_pythonpath=FAKES)
    try:
        if case == 'SIGTERM during model load':
            # As soon as the node can handle it (before that, no Python program can), while
            # the model is still loading: a fixed delay raced the interpreter's start-up.
            assert wait_for_sigterm_handler(node.process.pid, 15.0)
            assert node.stop(signal.SIGTERM) == 0
        else:
            with ros_graph('signals_client') as graph:
                client = NodeClient(graph, node, 'image_raw', IMAGE)
                client.wait_ready()
                if case == 'SIGINT again every 50 ms':
                    # A user pressing Ctrl-C again while the node shuts down and exits: the
                    # exit code stays 0 whenever the later ones land (they used to kill it).
                    for _ in range(6):
                        if node.process.poll() is not None:
                            break
                        node.process.send_signal(signal.SIGINT)
                        time.sleep(0.05)
                    assert node.stop(signal.SIGINT) == 0
                else:
                    client.publisher.publish(good_raw(1))
                    client.wait_counter('frames_received', 1)
                    time.sleep(0.2)  # inside the 800 ms forward
                    assert node.stop(signal.SIGTERM) == 0
        output = node.output()
        for bad in ('Traceback', 'ERROR', 'frame lost', 'KeyboardInterrupt'):
            assert bad not in output, output
    finally:
        node.close()
