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
The node process's behaviour over DDS.

Overlay only with a subscriber, latched label_info, runtime parameters, bad frames, stale-frame
dropping, startup errors and clean shutdown.
"""

from __future__ import annotations

import signal

from helpers.bags import BagMessage, COMPRESSED, IMAGE, image_array, image_from_bgr, raw_image, \
    read_bag, stamp_from, stamp_of, typestore, write_bag
from helpers.fake_runtime import FAKES, write_fake_bin
from helpers.models import SHAPES_ONNX, single_output_onnx
from helpers.node_process import LATCHED, NodeClient, NodeProcess, RELIABLE, SHAPES_NAMES
from helpers.ros_graph import ros_graph
from helpers.shapes_dataset import SHAPE_CLASS_NAMES
import numpy as np
import pytest
from sensor_msgs.msg import Image
from test_node_bags import same_header, scenes, write_scene_bag
from vision_msgs.msg import LabelInfo
from yolov8_seg_ros.parameters import SPECS

SHAPES_PARAMS = {'model_path': str(SHAPES_ONNX), 'class_names_file': str(SHAPES_NAMES),
                 'image_reliability': 'reliable'}
BUILTIN_PARAMETERS = {'use_sim_time', 'start_type_description_service'}


def recorded_frames(tmp_path, frames, encoding='bgr8'):
    """Write frames to a raw-image bag and read them back as recorded messages."""
    return list(read_bag(write_scene_bag(tmp_path / 'bag', frames, encoding)))


def test_overlay_label_info_and_runtime_parameters(tmp_path):
    frames = scenes((640, 480), count=8)[:8]
    recorded = recorded_frames(tmp_path, frames)
    node = NodeProcess('/behaviour', {**SHAPES_PARAMS, 'diagnostics_period': 0.2})
    try:
        with ros_graph('behaviour_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            client.wait_ready()
            names = client.parameter_names() - BUILTIN_PARAMETERS
            assert {n for n in names if not n.startswith('qos_overrides.')} == set(SPECS)
            # ROS 2's QoS overriding parameters, on the input and on every output.
            for entity in ('/behaviour/image_raw.subscription',
                           '/behaviour/yolov8_seg/detections.publisher',
                           '/behaviour/yolov8_seg/overlay.publisher'):
                assert {f'qos_overrides.{entity}.{policy}'
                        for policy in ('reliability', 'depth', 'history')} <= names

            # No overlay subscriber: no overlay is drawn.
            first = client.send_and_wait(recorded[0])
            assert client.wait_counter('frames_processed', 1)['frames_with_overlay'] == '0'

            overlays = graph.collect(Image, '/behaviour/yolov8_seg/overlay', RELIABLE)
            assert graph.spin_until(
                lambda: graph.node.count_subscribers('/behaviour/yolov8_seg/overlay') > 0, 5.0)
            # The node learns of the subscriber through its own discovery, a moment later: send
            # until it draws (the overlay follows its frame's detections at once).
            sent = 1
            for _ in range(10):
                second = client.send_and_wait(recorded[1])
                sent += 1
                if graph.spin_until(lambda: bool(overlays), 3.0):
                    break
            assert len(overlays) == 1
            assert same_header(overlays[0].header, second.header)
            assert (overlays[0].encoding, overlays[0].width, overlays[0].height) == \
                ('bgr8', 640, 480)
            drawn = image_array(overlays[0])
            assert (drawn != frames[1].image_bgr).any(axis=2).mean() > 0.01
            assert client.wait_counter('frames_processed', sent)['frames_with_overlay'] == '1'

            # publish_overlay off: nothing drawn even with a subscriber.
            assert client.set_parameters(publish_overlay=False)[0].successful
            client.send_and_wait(recorded[2])
            assert client.wait_counter('frames_processed', sent + 1)['frames_with_overlay'] == '1'
            assert len(overlays) == 1

            # A late subscriber still gets the latched class map.
            infos = graph.collect(LabelInfo, '/behaviour/yolov8_seg/label_info', LATCHED)
            assert graph.spin_until(lambda: bool(infos), 10.0)
            assert [(c.class_id, c.class_name) for c in infos[0].class_map] == \
                list(enumerate(SHAPE_CLASS_NAMES))

            # Runtime parameters apply from the next frame. By default class_id is the id.
            assert all(r.successful for r in client.set_parameters(class_id_format='name'))
            named = client.send_and_wait(recorded[0])
            assert [d.results[0].hypothesis.class_id for d in named.detections] == \
                [SHAPE_CLASS_NAMES[int(d.results[0].hypothesis.class_id)]
                 for d in first.detections]
            assert all(r.successful for r in client.set_parameters(class_id_format='id'))
            result = client.send_and_wait(recorded[0])
            assert [d.results[0].hypothesis.class_id for d in result.detections] == \
                [d.results[0].hypothesis.class_id for d in first.detections]

            keep = int(result.detections[0].results[0].hypothesis.class_id)
            assert client.set_parameters(classes=[keep], mask_output='class')[0].successful
            masks_before = len(client.masks)
            filtered = client.send_and_wait(recorded[0])
            assert filtered.detections
            assert {d.results[0].hypothesis.class_id for d in filtered.detections} == {str(keep)}
            assert graph.spin_until(lambda: len(client.masks) > masks_before, 10.0)
            # vision_msgs: the pixel is the class id, 255 (UNLABELED) is background, and the
            # published LabelInfo names the id.
            class_mask = image_array(client.masks[-1])
            assert set(np.unique(class_mask)) == {keep, 255}
            assert {c.class_id: c.class_name for c in infos[-1].class_map}[keep] == \
                SHAPE_CLASS_NAMES[keep]
            assert class_mask[class_mask != 255].size > 0

            assert client.set_parameters(classes=[-1], conf_threshold=0.9)[0].successful
            # The new threshold is republished in label_info (latched).
            assert graph.spin_until(lambda: len(infos) > 1, 10.0)
            assert infos[-1].threshold == pytest.approx(0.9)
            masks_before = len(client.masks)
            strict = client.send_and_wait(recorded[0])
            assert graph.spin_until(lambda: len(client.masks) > masks_before, 10.0)
            assert all(d.results[0].hypothesis.score >= 0.9 for d in strict.detections)
            assert len(strict.detections) < len(first.detections)

            masks_before = len(client.masks)
            assert client.set_parameters(mask_output='none')[0].successful
            client.send_and_wait(recorded[3])
            graph.spin_until(lambda: False, 0.5)
            assert len(client.masks) == masks_before

            rejected = {
                'conf_threshold': client.set_parameters(conf_threshold=1.5)[0],
                'classes': client.set_parameters(classes=[7])[0],
                'mask_output': client.set_parameters(mask_output='polygons')[0],
                'model_path': client.set_parameters(model_path='/tmp/other.onnx')[0],
                'max_det': client.set_parameters(max_det=0)[0],
                'track_new_score': client.set_parameters(track_new_score=0.3)[0],
            }
            assert not any(r.successful for r in rejected.values())
            assert 'track_new_score 0.3 is below track_high_score 0.35' in \
                rejected['track_new_score'].reason
            assert 'out of range' in rejected['classes'].reason
            reason = rejected['mask_output'].reason
            assert "expected one of ('instance', 'class', 'none')" in reason
            assert ('model_path takes effect at configure: change it while /behaviour/yolov8_seg '
                    'is unconfigured') in rejected['model_path'].reason
            client.send_and_wait(recorded[4])  # still running with the accepted values

            # A burst of threshold changes: a subscriber joining afterwards reads the last one.
            for k in range(60):
                assert client.set_parameters(conf_threshold=0.3 + 0.01 * (k % 7))[0].successful
            assert client.set_parameters(conf_threshold=0.123)[0].successful
            graph.spin_until(lambda: False, 1.5)  # the worker republishes within 0.5 s
            late = graph.collect(LabelInfo, '/behaviour/yolov8_seg/label_info', LATCHED)
            assert graph.spin_until(lambda: bool(late), 10.0)
            assert [i.threshold for i in late] == [pytest.approx(0.123)]
        assert node.stop(signal.SIGTERM) == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_bad_frames_are_skipped_counted_and_warned_once_per_kind(tmp_path):
    store = typestore()
    good = scenes((640, 480), count=2)
    bgr = good[0].image_bgr
    bad = [
        ('unsupported encoding', raw_image(store, bgr, 640, 480, 'bayer_rggb8', 640, (1, 0))),
        ('data has', raw_image(store, bgr[:200], 640, 480, 'bgr8', 1920, (2, 0))),
        ('data has', raw_image(store, bgr[:100], 640, 480, 'bgr8', 1920, (3, 0))),
        ('smaller than one row', raw_image(store, bgr, 640, 480, 'bgr8', 1000, (4, 0))),
        ('must be even', raw_image(store, np.zeros(641 * 720, np.uint8), 641, 480, 'nv12',
                                   641, (5, 0))),
        ('empty image', raw_image(store, np.zeros(0, np.uint8), 0, 0, 'mono8', 0, (6, 0))),
    ]
    messages = [BagMessage('image_raw', IMAGE, image_from_bgr(store, good[0].image_bgr, 'bgr8',
                                                              stamp_of(0)), 0)]
    messages += [BagMessage('image_raw', IMAGE, msg, i + 1) for i, (_, msg) in enumerate(bad)]
    messages.append(BagMessage('image_raw', IMAGE, image_from_bgr(
        store, good[1].image_bgr, 'bgr8', stamp_of(1)), 99))
    recorded = list(read_bag(write_bag(tmp_path / 'bag', messages)))
    node = NodeProcess('/bad_frames', {**SHAPES_PARAMS, 'diagnostics_period': 0.1})
    try:
        with ros_graph('bad_frames_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            client.wait_ready()
            client.send_and_wait(recorded[0])
            for count, message in enumerate(recorded[1:-1], start=1):
                client.send(message)
                client.wait_counter('frames_bad', count)
            last = client.send_and_wait(recorded[-1])
            values = client.wait_counter('frames_processed', 2)
        assert values['frames_bad'] == str(len(bad)) and values['frames_failed'] == '0'
        assert len(client.detections) == 2
        assert stamp_from(last.header) == stamp_of(1)
        output = node.output()
        for text, _ in bad:
            assert text in output, text
        # Two truncated frames of different sizes are one kind: warned once.
        assert output.count('data has') == 1, output
        assert node.stop() == 0
    finally:
        node.close()


def test_corrupt_compressed_frame_is_skipped(tmp_path):
    store = typestore()
    frames = scenes((640, 480), count=1)[:1]
    good = image_from_bgr(store, frames[0].image_bgr, 'jpeg', stamp_of(0))
    corrupt = store.types[COMPRESSED](header=good.header, format='jpeg',
                                      data=good.data[:len(good.data) // 3].copy())
    corrupt.data[:4] = 0
    recorded = list(read_bag(write_bag(tmp_path / 'bag', [
        BagMessage('image', COMPRESSED, corrupt, 0), BagMessage('image', COMPRESSED, good, 1)])))
    node = NodeProcess('/corrupt', {**SHAPES_PARAMS, 'input_transport': 'compressed',
                                    'diagnostics_period': 0.1})
    try:
        with ros_graph('corrupt_client') as graph:
            client = NodeClient(graph, node, 'image', COMPRESSED)
            client.wait_ready()
            client.send(recorded[0])
            client.wait_counter('frames_bad', 1)
            assert client.send_and_wait(recorded[1]).detections
        assert 'data is unknown' in node.output()
        assert node.stop() == 0
    finally:
        node.close()


def test_stale_frames_are_dropped_and_outputs_keep_their_headers(tmp_path):
    # The fake BPU takes 150 ms per frame and holds the GIL meanwhile, as the board's does: a
    # burst of 30 frames is far faster than the node, whatever the machine's load.
    slow_bin = write_fake_bin(SHAPES_ONNX, tmp_path / 'slow.bin', latency_ms=150.0)
    frames = scenes((1280, 720), count=3)[:3] * 10
    recorded = recorded_frames(tmp_path, frames, encoding='nv12')
    node = NodeProcess('/drops', {**SHAPES_PARAMS, 'model_path': str(slow_bin),
                                  'backend': 'hobot_dnn', 'diagnostics_period': 0.2},
                       extra_pythonpath=FAKES)
    newest = stamp_of(len(recorded) - 1)
    try:
        with ros_graph('drops_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE, depth=len(recorded))
            client.wait_ready()
            for message in recorded:
                client.send(message)

            def settled() -> bool:
                values = client.values_of(client.diagnostics[-1])
                done = int(values['frames_processed']) + int(values['frames_dropped'])
                return done == int(values['frames_received']) and bool(client.detections) and \
                    stamp_from(client.detections[-1].header) == newest
            assert graph.spin_until(settled, 60.0), client.values_of(client.diagnostics[-1])
            values = client.wait_counter('frames_processed', len(client.detections))
        assert int(values['frames_dropped']) > 0, values
        assert len(client.detections) == int(values['frames_processed'])
        stamps = [stamp_from(d.header) for d in client.detections]
        assert stamps == sorted(set(stamps))
        assert set(stamps) <= {stamp_of(i) for i in range(len(recorded))}
        assert stamps[-1] == newest  # the newest frame is never dropped
        assert node.stop() == 0
    finally:
        node.close()


STARTUP_VALUE_CASES = {
    'range double': ({'conf_threshold': 2.0}, 'conf_threshold 2.0: expected 0.0..1.0'),
    'range int': ({'max_det': 0}, 'max_det 0: expected 1..10000'),
    'negative threads': ({'num_threads': -1}, 'num_threads -1: expected 0..256'),
    'zero period': ({'diagnostics_period': 0.0}, 'diagnostics_period 0.0: expected 0.1..60.0'),
    'string for list': ({'classes': 'x'}, 'expected a list of integer'),
    'string for double': ({'conf_threshold': 'abc'}, 'conf_threshold := abc: expected a double'),
    'int for double': ({'diagnostics_period': 1}, 'expected a double like 1.0, got a integer'),
    'empty list': ({'onnx_providers': []}, 'ROS cannot type an empty list'),
    'new below high': ({'track_new_score': 0.3},
                       'track_new_score 0.3 is below track_high_score 0.35'),
}


@pytest.mark.parametrize('case', ['missing model', 'model is a directory', 'no split heads',
                                  'class count', 'bad value', 'bad providers',
                                  'params file', *STARTUP_VALUE_CASES])
def test_startup_errors_exit_non_zero_with_one_clear_message(tmp_path, case):
    params_file = tmp_path / 'params.yaml'  # after config/seg.yaml, as a user's own file
    params_file.write_text('/**:\n  ros__parameters:\n    conf_threshold: "abc"\n')
    value_cases = {name: ({**SHAPES_PARAMS, **params}, expected)
                   for name, (params, expected) in STARTUP_VALUE_CASES.items()}
    params, expected = {
        **value_cases,
        'missing model': ({'model_path': str(tmp_path / 'nope.onnx')}, 'does not exist'),
        'model is a directory': ({'model_path': str(tmp_path)}, 'is a directory'),
        'no split heads': ({'model_path': str(single_output_onnx(tmp_path / 'plain.onnx')),
                            'class_names_file': str(SHAPES_NAMES)}, '(1, 116, 64, 64)'),
        'class count': ({'model_path': str(SHAPES_ONNX)},
                        'has 4 classes but 80 class names'),
        'bad value': ({**SHAPES_PARAMS, 'resize_mode': 'crop'}, "resize_mode 'crop'"),
        'bad providers': ({**SHAPES_PARAMS, 'onnx_providers': ['gpu']}, 'onnx_providers'),
        'params file': (SHAPES_PARAMS, f"conf_threshold := 'abc' in {params_file}: expected a "
                                       'double like 0.25, got a string'),
    }[case]
    node = NodeProcess(f'/startup_{case.replace(" ", "_")}', params,  # with config/seg.yaml
                       params_file=params_file if case == 'params file' else None)
    try:
        assert_one_fatal_line(node, expected)
    finally:
        node.close()


def assert_one_fatal_line(node: NodeProcess, expected: str) -> None:
    """Assert the node exits with code 1 and one FATAL line holding expected, no traceback."""
    assert node.wait_exit(60.0) == 1
    output = node.output()
    fatal = [line for line in output.splitlines() if 'FATAL' in line]
    assert len(fatal) == 1 and expected in fatal[0], output
    assert 'Traceback' not in output


def test_without_scipy_tracking_none_runs_and_bytetrack_is_refused_in_one_line(tmp_path):
    # SciPy hidden: an import of it fails in the node process, as where it is not installed.
    hidden = tmp_path / 'no_scipy'
    (hidden / 'scipy').mkdir(parents=True)
    (hidden / 'scipy' / '__init__.py').write_text(
        "raise ImportError('No module named scipy (hidden by the test)')\n")
    expected = 'tracking bytetrack needs SciPy'
    refused = NodeProcess('/no_scipy_bytetrack', SHAPES_PARAMS, extra_pythonpath=hidden)
    try:
        assert_one_fatal_line(refused, expected)
    finally:
        refused.close()
    recorded = recorded_frames(tmp_path, scenes((640, 480), count=1)[:1])
    node = NodeProcess('/no_scipy_none', {**SHAPES_PARAMS, 'tracking': 'none'},
                       extra_pythonpath=hidden)
    try:
        with ros_graph('no_scipy_client') as graph:
            client = NodeClient(graph, node, 'image_raw', IMAGE)
            client.wait_ready()
            assert client.send_and_wait(recorded[0]).detections
            result = client.set_parameters(tracking='bytetrack')[0]
            assert not result.successful and expected in result.reason
            assert client.send_and_wait(recorded[0]).detections
        assert node.stop() == 0
        assert 'Traceback' not in node.output()
    finally:
        node.close()
