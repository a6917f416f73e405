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
3D from depth (yolov8_seg_ros.depth) on rendered ground truth, without ROS.

Scenes from test/helpers/depth_scenes.py (flat shapes at 0.5-8 m before a wall and a floor,
some tilted, some overlapping), detected through the node's own pipeline by the shapes model
fine-tuned on overlapping shapes (shapes_seg_320_overlap); depth exact or with the stereo/ToF
noise model, at full and at half resolution.
The peers' box-median method runs on the same scenes as the baseline.
"""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

from helpers.depth_scenes import (add_noise, box_median_baseline, CAMERA, half_resolution,
                                  render_scene, to_millimetres)
from helpers.models import SHAPES_OVERLAP_ONNX
import numpy as np
import pytest
from yolov8_seg_ros.backends import create_backend
from yolov8_seg_ros.decode import InstanceMask, SegmentationResult
from yolov8_seg_ros.depth import (_axis_samples, _inner_samples, Depth3DConfig,
                                  depth_from_image, depth_scale, DepthImage, DepthInputError,
                                  Intrinsics, localize, nearest_by_stamp)
from yolov8_seg_ros.image_conversion import SourceImage
from yolov8_seg_ros.names import sibling_camera_info
from yolov8_seg_ros.parameters import default_values, runtime_config
from yolov8_seg_ros.pipeline import SegmentationPipeline

SEEDS = range(8)


def accuracy(test):
    """
    Mark a rendered-scene test: one xdist worker detects the scenes once.

    Also slow: the main run only (the NumPy 2 and Python 3.10 runs take the synthetic tests).
    """
    return pytest.mark.slow(pytest.mark.xdist_group('depth3d_accuracy')(test))


@pytest.fixture(scope='module')
def detected_scenes():
    """(scene, the node's detections) for each seed, without and with overlapping objects."""
    pipeline = SegmentationPipeline(create_backend('onnxruntime', str(SHAPES_OVERLAP_ONNX)),
                                    'letterbox', ['circle', 'rectangle', 'triangle', 'star'])
    config = runtime_config({**default_values(), 'tracking': 'none'})
    scenes = {}
    for overlapping in (False, True):
        scenes[overlapping] = []
        for seed in SEEDS:
            scene = render_scene(seed, overlapping=overlapping)
            result = pipeline.run(SourceImage(scene.image_bgr, 'bgr8'), config, False).result
            scenes[overlapping].append((scene, result))
    return scenes


def with_truth_masks(scene, result):
    """Return the result with the ground-truth masks and boxes instead (the 3D method alone)."""
    boxes = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] for ys, xs in
                      (np.nonzero(o.mask) for o in scene.objects)], np.float32).reshape(-1, 4)
    return dataclasses.replace(
        result, boxes_xyxy=boxes, scores=np.ones(len(boxes), np.float32),
        class_ids=np.array([o.class_id for o in scene.objects], np.int32),
        masks=tuple(InstanceMask(int(x1), int(y1), o.mask[y1:y2, x1:x2].view(np.uint8))
                    for o, (x1, y1, x2, y2) in zip(scene.objects, boxes.astype(int))),
        low_boxes_xyxy=np.zeros((0, 4), np.float32), low_scores=np.zeros(0, np.float32))


def measure(scenes, noisy: bool, half: bool, truth_masks: bool = False):
    """Per matched object (>= 50 % visible): relative centre and size errors, and baseline's."""
    errors = []
    for seed, (scene, result) in enumerate(scenes):
        if truth_masks:
            result = with_truth_masks(scene, result)
        depth_m = add_noise(scene.depth_m, seed) if noisy else scene.depth_m
        depth_m, camera = half_resolution(depth_m) if half else (depth_m, CAMERA)
        located = {o.index: o for o in localize(result, DepthImage(depth_m, 1.0), camera,
                                                Depth3DConfig())}
        full_masks = [m.full(result.image_wh) for m in result.masks]
        for truth in scene.objects:
            if truth.visible_fraction < 0.5:
                continue
            ious = [(m & truth.mask).sum() / (m | truth.mask).sum() for m in full_masks]
            if not ious or max(ious) < 0.5:
                continue
            k = int(np.argmax(ious))
            assert k in located, 'a well detected object got no 3D detection'
            found = located[k]
            baseline = box_median_baseline(result.boxes_xyxy[k], depth_m, camera,
                                           0.5 if half else 1.0)
            errors.append((
                np.linalg.norm(found.center_xyz - truth.center_xyz) / truth.distance_m,
                np.abs(found.size_xyz - truth.size_xyz).max() / truth.size_xyz.max(),
                np.linalg.norm(baseline - truth.center_xyz) / truth.distance_m))
    assert len(errors) >= 2 * len(scenes), 'too few objects matched'
    return np.array(errors)


KINDS = [(noisy, half) for noisy in (False, True) for half in (False, True)]
KIND_IDS = [f'{"noisy" if n else "exact"}-{"half" if h else "full"}' for n, h in KINDS]


SCENE_KINDS = pytest.mark.parametrize('overlapping', [False, True],
                                      ids=['before a wall', 'overlapping'])


@accuracy
@SCENE_KINDS
@pytest.mark.parametrize('noisy, half', KINDS, ids=KIND_IDS)
def test_objects_are_placed_within_2_percent_and_3x_better_than_by_the_box_median(
        detected_scenes, overlapping, noisy, half):
    centre, size, baseline = measure(detected_scenes[overlapping], noisy, half).T
    assert np.median(centre) <= 0.02 and centre.max() <= 0.05, centre
    assert np.median(size) <= 0.10, size
    # The box median lands on the wall behind stars and triangles, or on the object in front.
    assert baseline.mean() >= 3 * centre.mean(), (baseline.mean(), centre.mean())


@accuracy
@SCENE_KINDS
@pytest.mark.parametrize('noisy, half', KINDS, ids=KIND_IDS)
def test_with_exact_masks_every_object_is_within_2_5_percent(detected_scenes, overlapping,
                                                             noisy, half):
    # The 3D method alone, on the ground-truth masks (measured: worst 1.9 %, size <= 4.1 %).
    centre, size, _ = measure(detected_scenes[overlapping], noisy, half, truth_masks=True).T
    assert np.median(centre) <= 0.01 and centre.max() <= 0.025, centre
    assert np.median(size) <= 0.05, size


@accuracy
@pytest.mark.parametrize('noisy', [False, True], ids=['exact', 'noisy'])
def test_16uc1_millimetres_and_32fc1_metres_give_the_same_result_to_1_mm(
        detected_scenes, noisy):
    compared = 0
    for seed, (scene, result) in enumerate(detected_scenes[False][:3]):
        depth_m = add_noise(scene.depth_m, seed) if noisy else scene.depth_m
        metres = localize(result, DepthImage(depth_m, 1.0), CAMERA, Depth3DConfig())
        millimetres = localize(result, DepthImage(to_millimetres(depth_m), 0.001), CAMERA,
                               Depth3DConfig())
        assert [a.index for a in metres] == [b.index for b in millimetres]
        for a, b in zip(metres, millimetres):
            np.testing.assert_allclose(a.center_xyz, b.center_xyz, atol=1e-3)
            np.testing.assert_allclose(a.size_xyz[:2], b.size_xyz[:2], atol=1e-3)
            # The depth extent of a flat object is its measured extent less the noise, in
            # quadrature: at the noise floor that amplifies the millimetre rounding (measured:
            # 8 mm for a flat object at 6 m, noise sigma 54 mm). Exact depth: 1 mm.
            np.testing.assert_allclose(a.size_xyz[2], b.size_xyz[2], atol=0.01 if noisy else 1e-3)
            compared += 1
    assert compared >= 6


@accuracy
def test_too_few_valid_samples_give_no_3d_detection(detected_scenes):
    scene, result = detected_scenes[False][0]
    holes = np.zeros_like(scene.depth_m)
    assert localize(result, DepthImage(holes, 1.0), CAMERA, Depth3DConfig()) == []
    nan = np.full_like(scene.depth_m, np.nan)
    assert localize(result, DepthImage(nan, 1.0), CAMERA, Depth3DConfig()) == []
    far = localize(result, DepthImage(scene.depth_m, 1.0), CAMERA, Depth3DConfig(max_m=0.4))
    assert far == []  # every object is beyond depth_max
    few = localize(result, DepthImage(scene.depth_m, 1.0), CAMERA,
                   Depth3DConfig(min_points=10 ** 6, max_points=10 ** 6))
    assert few == []


@accuracy
def test_the_samples_read_per_object_are_bounded(detected_scenes):
    scene, result = detected_scenes[False][0]
    located = localize(result, DepthImage(scene.depth_m, 1.0), CAMERA,
                       Depth3DConfig(max_points=500))
    assert located and all(30 <= len(o.points_xyz) <= 600 for o in located)


def test_a_tilted_square_is_placed_and_sized_exactly():
    # A 200x200 pixel square on a plane through (0, 0, 2 m) tilted about y, on exact depth.
    camera = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480)
    u, v = np.meshgrid(np.arange(640) - camera.cx, np.arange(480) - camera.cy)
    slope = np.tan(0.3)  # z = 2 + slope * x on the plane
    z = (2.0 / (1.0 - slope * u / camera.fx)).astype(np.float32)
    mask = np.zeros((200, 200), np.uint8)
    mask[:] = 1
    result = SegmentationResult(np.array([[220, 140, 420, 340]], np.float32),
                                np.ones(1, np.float32), np.zeros(1, np.int32),
                                (InstanceMask(220, 140, mask),), (640, 480))
    for depth in (DepthImage(z, 1.0), DepthImage(np.round(z * 1000).astype(np.uint16), 0.001)):
        (found,) = localize(result, depth, camera, Depth3DConfig())
        square = np.s_[140:340, 220:420]
        x, y = u[square] * z[square] / camera.fx, v[square] * z[square] / camera.fy
        truth = np.stack([x.ravel(), y.ravel(), z[square].ravel()], axis=1)
        low, high = np.percentile(truth, [2, 98], axis=0)
        np.testing.assert_allclose(found.center_xyz, (low + high) / 2, atol=0.01)
        # The whole square's extent, though the samples at its edge are left out (mixed depth):
        # the margin they leave is given back (measured: x +0.2 %, y -1.6 %; without, -2.7 %).
        np.testing.assert_allclose(found.size_xyz, high - low, rtol=0.02, atol=0.002)
        assert 300 <= len(found.points_xyz) <= 1000  # at most max_points, on a regular grid


def depth_message(values: np.ndarray, encoding: str, step: int = 0, data=None,
                  bigendian: bool = False):
    height, width = values.shape
    raw = values.tobytes() if data is None else data
    return SimpleNamespace(encoding=encoding, width=width, height=height,
                           step=step or width * values.itemsize, data=raw,
                           is_bigendian=bigendian)


def test_depth_messages_are_read_as_views_in_either_encoding():
    millimetres = np.arange(12, dtype=np.uint16).reshape(3, 4) * 500
    image = depth_from_image(depth_message(millimetres, '16UC1'), 10 ** 6)
    assert image.metres_per_unit == 0.001 and np.array_equal(image.values, millimetres)
    swapped = depth_from_image(depth_message(millimetres.byteswap(), '16UC1', bigendian=True),
                               10 ** 6)
    assert np.array_equal(swapped.values.astype(np.uint16), millimetres)
    metres = millimetres.astype(np.float32) / 1000
    padded = np.zeros((3, 5), np.float32)
    padded[:, :4] = metres
    image = depth_from_image(depth_message(metres, '32FC1', step=20, data=padded.tobytes()),
                             10 ** 6)
    assert image.size_wh == (4, 3) and np.array_equal(image.values, metres)


@pytest.mark.parametrize('message, reason', [
    (depth_message(np.zeros((3, 4), np.uint8), 'mono8'), "depth encoding 'mono8'"),
    (depth_message(np.zeros((3, 4), np.uint16), '16uc1'), "depth encoding '16uc1'"),
    (depth_message(np.zeros((3, 4), np.uint16), '16UC1', step=6), 'smaller than one row'),
    (depth_message(np.zeros((3, 4), np.uint16), '16UC1', data=b'\0' * 10), 'data has 10 bytes'),
    (depth_message(np.zeros((0, 4), np.uint16), '16UC1'), 'empty image'),
    (depth_message(np.zeros((300, 400), np.float32), '32FC1'), 'more than max_image_pixels'),
])
def test_bad_depth_images_are_refused_with_the_reason(message, reason):
    with pytest.raises(DepthInputError, match=reason):
        depth_from_image(message, 10 ** 5)


@pytest.mark.parametrize('k, size, reason', [
    ([0.0, 0, 320, 0, 500, 240, 0, 0, 1], (640, 480), 'focal length fx 0'),
    ([float('nan'), 0, 320, 0, 500, 240, 0, 0, 1], (640, 480), 'expected finite'),
    ([500.0, 0, 320, 0, 500, 240, 0, 0], (640, 480), 'K has 8 values'),
    ([500.0, 0, 320, 0, 500, 240, 0, 0, 1], (0, 0), 'camera info size 0x0'),
])
def test_bad_camera_info_is_refused_with_the_reason(k, size, reason):
    with pytest.raises(DepthInputError, match=reason):
        Intrinsics.from_camera_info(k, *size)


def test_depth_must_be_a_scaled_view_of_the_colour_image():
    depth = DepthImage(np.zeros((352, 640), np.uint16), 0.001)
    camera = Intrinsics(400.0, 400.0, 320.0, 176.0, 640, 352)
    assert depth_scale((1280, 704), depth, camera) == (0.5, 0.5)  # stereonet beside its left
    with pytest.raises(DepthInputError, match='not a scaled view of the colour image 1280x720'):
        depth_scale((1280, 720), DepthImage(np.zeros((480, 640), np.uint16), 0.001),
                    Intrinsics(400.0, 400.0, 320.0, 240.0, 640, 480))
    with pytest.raises(DepthInputError, match='camera info size 640x480 does not match'):
        depth_scale((1280, 704), depth, Intrinsics(400.0, 400.0, 320.0, 240.0, 640, 480))


def test_pairing_takes_the_nearest_stamp_within_the_limit():
    stamped = [(1_000_000_000, 'a'), (1_033_000_000, 'b'), (1_100_000_000, 'c')]
    assert nearest_by_stamp(stamped, 1_030_000_000, 20_000_000) == 'b'
    assert nearest_by_stamp(stamped, 1_066_000_000, 20_000_000) is None
    assert nearest_by_stamp(list(reversed(stamped)), 1_095_000_000, 20_000_000) == 'c'
    assert nearest_by_stamp([], 0, 10) is None


def test_camera_info_beside_the_depth_topic():
    assert sibling_camera_info('/camera/aligned_depth_to_color/image_raw') == \
        '/camera/aligned_depth_to_color/camera_info'
    assert sibling_camera_info('depth/image_rect_raw') == 'depth/camera_info'
    assert sibling_camera_info('depth') == 'camera_info'
    assert sibling_camera_info('/depth') == '/camera_info'


def test_depth_settings_that_do_not_agree_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r'depth_min 30\.0 must be below depth_max 20\.0'):
        runtime_config({**default_values(), 'depth_min': 30.0})
    with pytest.raises(ValueError, match=r'depth_max_points 5: expected 10\.\.1000000'):
        Depth3DConfig(max_points=5)


@pytest.mark.parametrize('scale', [1.0, 0.5, 0.25, 2.0, 1 / 3, 0.6625])
def test_depth_samples_fall_on_the_colour_pixels_their_centres_map_to(scale):
    # Depth pixel d covers colour pixels [d / scale, (d + 1) / scale): its centre falls on
    # floor((d + 0.5) / scale). Evenly spaced samples come back as a slice, others as indices.
    for start, length, step in itertools.product(range(0, 40, 3), range(1, 30, 2), range(1, 6)):
        limit = int(50 * scale)
        depth_index, colour = _axis_samples(start, length, scale, limit, step)
        expected = np.arange(max(int(np.floor(start * scale)), 0),
                             min(int(np.ceil((start + length) * scale)), limit), step)
        centres = np.floor((expected + 0.5) / scale).astype(np.int64) - start
        inside = (centres >= 0) & (centres < length)
        assert np.array_equal(depth_index, expected[inside])
        assert np.array_equal(np.arange(length)[colour], centres[inside])


@pytest.mark.parametrize('scale_xy', [(1.0, 1.0), (0.5, 0.5), (0.25, 0.25), (2.0, 2.0),
                                      (1 / 3, 1 / 3), (0.5, 0.5037), (0.6625, 0.6625)])
def test_border_samples_are_those_with_a_neighbour_outside_the_mask(scale_xy):
    # Reference: the mask padded with zeros, each sample and its four neighbours reach away.
    rng = np.random.default_rng(7)
    for _ in range(150):
        height, width = (int(v) for v in rng.integers(1, 60, 2))
        mask = (rng.random((height, width)) < 0.8).astype(np.uint8)
        x0, y0 = (int(v) for v in rng.integers(0, 40, 2))
        step, reach = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        _, columns = _axis_samples(x0, width, scale_xy[0], int(100 * scale_xy[0]), step)
        _, rows = _axis_samples(y0, height, scale_xy[1], int(100 * scale_xy[1]), step)
        row_index, column_index = np.arange(height)[rows], np.arange(width)[columns]
        if not row_index.size or not column_index.size:
            continue
        padded = np.pad(mask, reach).astype(bool)
        at = [padded[np.ix_(row_index + reach + dy, column_index + reach + dx)]
              for dy, dx in ((0, 0), (-reach, 0), (reach, 0), (0, -reach), (0, reach))]
        original = mask.copy()
        sampled, inner = _inner_samples(mask, rows, columns, reach)
        assert np.array_equal(sampled, at[0])
        assert np.array_equal(inner, np.logical_and.reduce(at))
        assert np.array_equal(mask, original)
