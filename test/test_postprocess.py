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

"""Golden tests of the postprocess on crafted heads whose boxes and masks are known exactly."""

import dataclasses
import random

import cv2

from helpers.synthetic_heads import build_heads, Planted
import numpy as np
import pytest
from yolov8_seg_ros.decode import DecodeConfig, SegmentationResult, SegPostprocessor
from yolov8_seg_ros.layout import LayoutError, resolve_layout
from yolov8_seg_ros.overlay import class_color, draw_overlay, label_box
from yolov8_seg_ros.render import render_class_labels, render_instance_labels
from yolov8_seg_ros.transform import ImageTransform


def decode(outputs, transform, **config):
    return SegPostprocessor.for_outputs(outputs)(outputs, transform, DecodeConfig(**config))


def reference_logits(transform, plane, content=False):
    """
    Return the exact float64 bilinear logit of a proto-resolution plane at every pixel centre.

    An independent reference for the mask upsampling: positions clamp to the proto plane, or
    with content to the proto pixels the image content covers (not the letterbox padding).
    """
    proto_h, proto_w = plane.shape
    (sx, sy), (px, py) = transform.scale_xy, transform.pad_xy
    (w, h), (rw, rh) = transform.source_wh, transform.resized_wh
    x_range = (px // 4, -(-(px + rw) // 4) - 1) if content else (0, proto_w - 1)
    y_range = (py // 4, -(-(py + rh) // 4) - 1) if content else (0, proto_h - 1)
    xs = np.clip((px + (np.arange(w) + 0.5) * sx) / 4 - 0.5, *x_range)
    ys = np.clip((py + (np.arange(h) + 0.5) * sy) / 4 - 0.5, *y_range)
    x0 = np.minimum(np.floor(xs).astype(int), proto_w - 2)
    y0 = np.minimum(np.floor(ys).astype(int), proto_h - 2)
    wx, wy = xs - x0, ys - y0
    top = plane[y0][:, x0] * (1 - wx) + plane[y0][:, x0 + 1] * wx
    bottom = plane[y0 + 1][:, x0] * (1 - wx) + plane[y0 + 1][:, x0 + 1] * wx
    return top * (1 - wy)[:, None] + bottom * wy[:, None]


def in_box(transform, box_src):
    """Select the pixels whose index lies in the box, as ultralytics' crop_mask."""
    w, h = transform.source_wh
    cols = (np.arange(w) >= box_src[0]) & (np.arange(w) < box_src[2])
    rows = (np.arange(h) >= box_src[1]) & (np.arange(h) < box_src[3])
    return rows[:, None] & cols[None, :]


def rect_plane(rect, proto_hw=(160, 160)):
    """Return the crafted heads' mask logits: +4 inside the proto rectangle, -4 outside."""
    plane = np.full(proto_hw, -4.0)
    plane[rect[1]:rect[3], rect[0]:rect[2]] = 4.0
    return plane


def expected_mask(transform, rect, box_src, proto_hw=(160, 160)):
    """Return the reference mask of a crafted +4/-4 rectangle: logit > 0 and in the box."""
    logits = reference_logits(transform, rect_plane(rect, proto_hw))
    return (logits > 0) & in_box(transform, box_src)


OBJECTS = [
    Planted(2, 0.9, (100.0, 180.0, 260.0, 300.0), (30, 50, 60, 70)),
    Planted(0, 0.8, (400.0, 200.0, 560.0, 420.0), (105, 55, 135, 100)),
    Planted(5, 0.6, (40.0, 420.0, 72.0, 460.0), (11, 106, 17, 114)),
]


@pytest.mark.parametrize('quantize', [False, True])
def test_recovers_planted_boxes_scores_classes_and_masks(quantize):
    transform = ImageTransform.letterbox((1280, 960), (640, 640))
    assert transform.pad_xy == (0, 80) and transform.scale_xy == (0.5, 0.5)
    outputs = build_heads((640, 640), 8, OBJECTS, quantize=quantize)
    result = decode(outputs, transform)
    assert len(result) == 3
    np.testing.assert_array_equal(result.class_ids, [2, 0, 5])
    np.testing.assert_allclose(result.scores, [0.9, 0.8, 0.6], atol=1e-5)
    for k, obj in enumerate(OBJECTS):
        box_in = np.array(obj.box_xyxy)
        expected_box = (box_in - [0, 80, 0, 80]) * 2.0
        tolerance = 0.1 if quantize else 2e-3
        np.testing.assert_allclose(result.boxes_xyxy[k], expected_box, atol=tolerance)
        full = result.masks[k].full(transform.source_wh)
        np.testing.assert_array_equal(full, expected_mask(transform, obj.mask_rect,
                                                          result.boxes_xyxy[k]))
        assert full.sum() > 100


@pytest.mark.parametrize('conf', [0.25, 0.5])
def test_the_low_score_set_is_extra_and_leaves_the_published_detections_as_they_are(conf):
    objects = [*OBJECTS, Planted(1, 0.3, (300.0, 40.0, 380.0, 120.0), (75, 10, 95, 30)),
               Planted(3, 0.15, (500.0, 480.0, 600.0, 600.0), (125, 120, 150, 150)),
               Planted(4, 0.05, (200.0, 500.0, 260.0, 560.0), (50, 125, 65, 140))]
    outputs = build_heads((640, 640), 8, objects)
    transform = ImageTransform.letterbox((1280, 960), (640, 640))
    plain = decode(outputs, transform, conf_threshold=conf)
    with_low = decode(outputs, transform, conf_threshold=conf, low_score_threshold=0.1)
    assert plain.low_scores.size == 0
    np.testing.assert_array_equal(with_low.boxes_xyxy, plain.boxes_xyxy)
    np.testing.assert_array_equal(with_low.scores, plain.scores)
    np.testing.assert_array_equal(with_low.class_ids, plain.class_ids)
    assert len(with_low.masks) == len(plain.masks) == len(plain)
    for a, b in zip(with_low.masks, plain.masks):
        assert (a.x0, a.y0) == (b.x0, b.y0) and np.array_equal(a.mask, b.mask)
    # The low set: every planted score in [0.1, conf), by descending score, boxes only.
    expected = sorted((o.score for o in objects if 0.1 <= o.score < conf), reverse=True)
    np.testing.assert_allclose(with_low.low_scores, expected, atol=1e-3)
    assert with_low.low_boxes_xyxy.shape == (len(expected), 4)
    lowest = decode(outputs, transform, conf_threshold=0.01)  # the same boxes, decoded plainly
    for box, score in zip(with_low.low_boxes_xyxy, with_low.low_scores):
        match = np.flatnonzero(np.isclose(lowest.scores, score, atol=1e-6))
        np.testing.assert_allclose(lowest.boxes_xyxy[match[0]], box, atol=1e-4)


def test_label_images_put_ids_and_classes_where_masks_are():
    transform = ImageTransform.letterbox((1280, 960), (640, 640))
    result = decode(build_heads((640, 640), 8, OBJECTS), transform)
    labels = render_instance_labels(result)
    assert labels.dtype == np.uint8 and labels.shape == (960, 1280)
    for k in range(3):
        np.testing.assert_array_equal(labels == k + 1, result.masks[k].full((1280, 960)))
    classes = render_class_labels(result, num_classes=8)
    np.testing.assert_array_equal(np.unique(classes), [0, 2, 5, 255])  # 255: UNLABELED
    np.testing.assert_array_equal(classes == 2, labels == 1)
    np.testing.assert_array_equal(classes == 255, labels == 0)
    wide = render_class_labels(result, num_classes=300)
    assert wide.dtype == np.uint16 and wide.max() == 65535


def test_overlapping_instances_resolved_by_score():
    objects = [Planted(0, 0.5, (100.0, 100.0, 200.0, 200.0), (25, 25, 50, 50)),
               Planted(1, 0.9, (150.0, 150.0, 250.0, 250.0), (37, 37, 62, 62))]
    identity = ImageTransform.stretch((640, 640), (640, 640))
    result = decode(build_heads((640, 640), 2, objects), identity)
    assert result.class_ids.tolist() == [1, 0]
    labels = render_instance_labels(result)
    assert labels[175, 175] == 1  # both masks cover it: the 0.9 detection wins
    assert labels[120, 120] == 2


def test_overlay_tints_mask_pixels_with_the_best_instance_colour_and_leaves_the_rest():
    objects = [Planted(0, 0.5, (100.0, 100.0, 200.0, 200.0), (25, 25, 50, 50)),
               Planted(1, 0.9, (150.0, 150.0, 250.0, 250.0), (37, 37, 62, 62))]
    identity = ImageTransform.stretch((640, 640), (640, 640))
    result = decode(build_heads((640, 640), 2, objects), identity)
    bgr = np.random.default_rng(0).integers(0, 256, (640, 640, 3), dtype=np.uint8)
    overlay = draw_overlay(bgr, result, ['a', 'b'], alpha=0.5)
    assert not np.shares_memory(overlay, bgr)
    labels = render_instance_labels(result)
    # Boxes and label texts alone: the same result drawn without its masks.
    drawn = (draw_overlay(bgr, dataclasses.replace(result, masks=()), ['a', 'b']) != bgr).any(-1)
    for k in range(2):
        colour = np.array(class_color(int(result.class_ids[k])), dtype=np.float64)
        where = (labels == k + 1) & ~drawn
        assert where.sum() > 1000
        expected = bgr[where] * 0.5 + colour * 0.5
        assert np.abs(overlay[where] - expected).max() <= 1.0
    untouched = (labels == 0) & ~drawn
    np.testing.assert_array_equal(overlay[untouched], bgr[untouched])


def _boxes_only(boxes_xyxy, image_wh):
    count = len(boxes_xyxy)
    return SegmentationResult(np.asarray(boxes_xyxy, np.float32), np.full(count, 0.87, np.float32),
                              np.zeros(count, np.int32), (), image_wh)


@pytest.mark.parametrize('box, image_wh', [
    ((600, 400, 639, 479), (640, 480)),  # bottom-right corner: shifted left, inside the box
    ((630, 200, 639, 260), (640, 480)),  # right edge
    ((0, 0, 50, 40), (640, 480)),  # top-left corner: below the top edge, inside the box
    ((-20, -30, 40, 40), (640, 480)),  # partly outside (a box may reach past the frame)
    ((100, 470, 300, 479), (640, 480)),  # a thin box on the bottom edge
    ((10, 10, 30, 30), (60, 20)),  # an image narrower than the label: it starts at 0
])
def test_every_label_stays_inside_the_image_with_all_its_text(box, image_wh):
    label = '#123 rectangle 0.87'
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    left, top, width, height = label_box(box[:2], (tw, th), image_wh)
    assert left >= 0 and top >= 0
    if width <= image_wh[0] and height <= image_wh[1]:
        assert left + width <= image_wh[0] and top + height <= image_wh[1]
        # The same text pixels as the label drawn far from any edge: nothing is cut off.
        colour = np.array(class_color(0))

        def text_pixels(bgr, at):
            x, y = at
            return int((bgr[y:y + height, x:x + width] != colour).any(-1).sum())

        blank = np.zeros((image_wh[1], image_wh[0], 3), np.uint8)
        drawn = draw_overlay(blank, _boxes_only([box], image_wh), ['rectangle'],
                             track_ids=[123])
        middle = (200, 200, 300, 300)
        reference = draw_overlay(np.zeros((600, 600, 3), np.uint8),
                                 _boxes_only([middle], (600, 600)), ['rectangle'],
                                 track_ids=[123])
        assert text_pixels(drawn, (left, top)) == text_pixels(
            reference, label_box(middle[:2], (tw, th), (600, 600))[:2]) > 20
    if box[1] - height >= 0 and box[0] + width <= image_wh[0]:
        assert (left, top) == (box[0], box[1] - height)  # room: on the box's top edge, outside


def test_zero_detections():
    transform = ImageTransform.letterbox((640, 480), (640, 640))
    result = decode(build_heads((640, 640), 80, []), transform)
    assert len(result) == 0 and result.boxes_xyxy.shape == (0, 4) and result.masks == ()
    assert not render_instance_labels(result).any()


def test_worst_case_every_cell_above_threshold_is_bounded():
    outputs = build_heads((640, 640), 80, [], fill_logit=3.0)
    result = decode(outputs, ImageTransform.letterbox((1920, 1080), (640, 640)), max_det=300,
                    pre_nms_topk=1000)
    assert 1 <= len(result) <= 300
    assert len(result.masks) == len(result)


def test_boxes_on_and_past_the_borders_are_clipped_and_masks_stay_inside():
    transform = ImageTransform.letterbox((1280, 960), (640, 640))
    objects = [Planted(0, 0.9, (-20.0, 60.0, 60.0, 140.0), (0, 10, 20, 40)),  # left + into pad
               Planted(1, 0.8, (600.0, 540.0, 660.0, 600.0), (145, 130, 160, 160))]
    result = decode(build_heads((640, 640), 2, objects), transform)
    assert len(result) == 2
    assert result.boxes_xyxy[:, [0, 2]].min() >= 0 and result.boxes_xyxy[:, [0, 2]].max() <= 1280
    assert result.boxes_xyxy[:, [1, 3]].min() >= 0 and result.boxes_xyxy[:, [1, 3]].max() <= 960
    np.testing.assert_allclose(result.boxes_xyxy[0], [0, 0, 120, 120], atol=2e-3)
    np.testing.assert_allclose(result.boxes_xyxy[1], [1200, 920, 1280, 960], atol=2e-3)
    for k in range(2):
        full = result.masks[k].full((1280, 960))
        x1, y1, x2, y2 = result.boxes_xyxy[k]
        ys, xs = np.nonzero(full)
        assert xs.min() >= x1 and xs.max() < x2 and ys.min() >= y1 and ys.max() < y2


def test_tiny_boxes():
    objects = [Planted(0, 0.9, (100.0, 100.0, 102.0, 101.0), (25, 25, 26, 26))]
    identity = ImageTransform.stretch((640, 640), (640, 640))
    result = decode(build_heads((640, 640), 1, objects), identity)
    np.testing.assert_allclose(result.boxes_xyxy[0], [100, 100, 102, 101], atol=2e-3)
    assert result.masks[0].mask.shape == (1, 2)


@pytest.mark.parametrize('input_hw', [(384, 640), (320, 320), (1280, 1280)])
def test_other_input_sizes_and_non_square(input_hw):
    h, w = input_hw
    rect = (w // 16, h // 16, w // 16 + 16, h // 16 + 12)
    objects = [Planted(0, 0.7, (w / 4, h / 4, w / 4 + 64, h / 4 + 48), rect)]
    transform = ImageTransform.letterbox((w * 3, h * 3), (w, h))
    result = decode(build_heads(input_hw, 1, objects), transform)
    assert len(result) == 1
    np.testing.assert_allclose(result.boxes_xyxy[0], np.array(objects[0].box_xyxy) * 3,
                               atol=1e-2)
    np.testing.assert_array_equal(result.masks[0].full(transform.source_wh),
                                  expected_mask(transform, objects[0].mask_rect,
                                                result.boxes_xyxy[0], (h // 4, w // 4)))


def test_quantized_heads_equal_float_heads_within_quantization_tolerance():
    rng = np.random.default_rng(3)
    float_outs = build_heads((640, 640), 80, OBJECTS)
    for out in float_outs[:6]:
        out.data[...] += rng.normal(0, 0.5, out.data.shape).astype(np.float32)
    quant = []
    for k, out in enumerate(float_outs):
        if k < 6:
            scale = (np.abs(out.data).reshape(-1, out.data.shape[-1]).max(0) / 2 ** 15)
            quant.append(type(out)(np.round(out.data / scale).astype(np.int32),
                                   scale.astype(np.float32)))
        else:
            quant.append(out)
    transform = ImageTransform.letterbox((1920, 1080), (640, 640))
    a, b = decode(float_outs, transform), decode(quant, transform)
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    np.testing.assert_allclose(a.boxes_xyxy, b.boxes_xyxy, atol=0.05)
    for ma, mb in zip(a.masks, b.masks):
        inter = (ma.full((1920, 1080)) & mb.full((1920, 1080))).sum()
        union = (ma.full((1920, 1080)) | mb.full((1920, 1080))).sum()
        assert inter >= 0.99 * union


def test_heads_in_any_order_give_identical_results():
    outputs = build_heads((640, 640), 80, OBJECTS)
    transform = ImageTransform.letterbox((1280, 960), (640, 640))
    reference = decode(outputs, transform)
    for seed in range(5):
        shuffled = list(outputs)
        random.Random(seed).shuffle(shuffled)
        got = decode(shuffled, transform)
        np.testing.assert_array_equal(got.boxes_xyxy, reference.boxes_xyxy)
        np.testing.assert_array_equal(got.class_ids, reference.class_ids)
        for ma, mb in zip(got.masks, reference.masks):
            np.testing.assert_array_equal(ma.mask, mb.mask)


@pytest.mark.parametrize('nc', [32, 64])
@pytest.mark.parametrize('order', ['seed', 'level'])
def test_ambiguous_class_count_resolved_by_grouping(nc, order):
    objects = [Planted(nc - 1, 0.9, (100.0, 180.0, 260.0, 300.0), (30, 50, 60, 70))]
    outputs = build_heads((640, 640), nc, objects, order=order)
    layout = resolve_layout([o.data.shape for o in outputs])
    assert layout.num_classes == nc
    result = decode(outputs, ImageTransform.stretch((640, 640), (640, 640)))
    assert result.class_ids.tolist() == [nc - 1]


def test_ambiguous_class_count_resolved_by_quantization_or_explicit_roles():
    outputs = build_heads((640, 640), 32, OBJECTS[:1], quantize=True)
    mixed = [outputs[k] for k in (9, 6, 1, 3, 7, 2, 4, 8, 0, 5)]  # no grouping at all
    layout = resolve_layout([o.data.shape for o in mixed], [o.scale is not None for o in mixed])
    assert [mixed[lv.cls].scale is None for lv in layout.levels] == [True] * 3
    with pytest.raises(LayoutError, match='explicit role mapping'):
        resolve_layout([o.data.shape for o in mixed])
    roles = ['protos', 'class', 'mask_coef', 'box', 'class', 'mask_coef', 'box', 'class',
             'mask_coef', 'box']
    explicit = resolve_layout([o.data.shape for o in mixed], roles=roles)
    assert explicit == layout


@pytest.mark.parametrize('shapes', [
    [(1, 80, 80, 64)] * 9,
    [(1, 80, 80, 32), (1, 40, 40, 32), (1, 20, 20, 32), (1, 80, 80, 64), (1, 40, 40, 64),
     (1, 20, 20, 64), (1, 80, 80, 80), (1, 40, 40, 80), (1, 20, 20, 80), (1, 160, 160, 16)],
    [(1, 80, 80, 32), (1, 40, 40, 32), (1, 20, 20, 32), (1, 80, 80, 64), (1, 40, 40, 64),
     (1, 20, 20, 64), (1, 80, 80, 80), (1, 40, 40, 80), (1, 25, 25, 80), (1, 160, 160, 32)],
    [(1, 8400, 116)],
])
def test_invalid_output_sets_raise_a_clear_error_naming_the_shapes(shapes):
    with pytest.raises(LayoutError) as error:
        resolve_layout(shapes)
    assert str(tuple(shapes[0])) in str(error.value)


def test_class_filter_agnostic_nms_and_max_det():
    objects = [Planted(0, 0.9, (100.0, 100.0, 200.0, 200.0)),
               Planted(1, 0.8, (104.0, 104.0, 204.0, 204.0), stride=16),
               Planted(2, 0.7, (400.0, 400.0, 500.0, 500.0))]
    outputs = build_heads((640, 640), 3, objects)
    transform = ImageTransform.stretch((640, 640), (640, 640))
    assert decode(outputs, transform).class_ids.tolist() == [0, 1, 2]
    assert decode(outputs, transform, agnostic_nms=True).class_ids.tolist() == [0, 2]
    assert decode(outputs, transform, classes=(1, 2)).class_ids.tolist() == [1, 2]
    assert decode(outputs, transform, max_det=1).class_ids.tolist() == [0]
    assert len(decode(outputs, transform, conf_threshold=0.75)) == 2
    assert decode(outputs, transform, with_masks=False).masks == ()


def test_more_than_255_instances_gives_a_uint16_label_image():
    objects = [Planted(0, 0.5 + 0.001 * k, (16.0 * (k % 40) + 2, 16.0 * (k // 40) + 2,
                                            16.0 * (k % 40) + 10, 16.0 * (k // 40) + 10))
               for k in range(300)]
    outputs = build_heads((640, 640), 1, objects)
    outputs[9].data[..., :] = 4.0  # every mask covers its whole box
    result = decode(outputs, ImageTransform.stretch((640, 640), (640, 640)), max_det=300)
    assert len(result) == 300
    labels = render_instance_labels(result)
    assert labels.dtype == np.uint16 and labels.max() == 300
    assert len(np.unique(labels)) == 301


def objects_in_content(transform, count=3):
    """Crafted objects placed inside the image content (not the padding) of the model input."""
    (px, py), (rw, rh) = transform.pad_xy, transform.resized_wh
    objects = []
    for k in range(count):
        x1 = px + rw * (0.1 + 0.3 * k)
        y1 = py + rh * (0.15 + 0.25 * k)
        box = (x1, y1, x1 + rw * 0.22, y1 + rh * 0.3)
        rect = (int(box[0] / 4) + 2, int(box[1] / 4) + 3, int(box[2] / 4) - 3,
                int(box[3] / 4) - 2)
        objects.append(Planted(k, 0.9 - 0.1 * k, box, rect))
    return objects


NON_INTEGER_SCALES = {
    '810x1080_letterbox': ImageTransform.letterbox((810, 1080), (640, 640)),
    '1080p_stretch': ImageTransform.stretch((1920, 1080), (640, 640)),
    '810x1080_stretch': ImageTransform.stretch((810, 1080), (640, 640)),
    '1000x700_letterbox': ImageTransform.letterbox((1000, 700), (640, 640)),
    '960x544_letterbox': ImageTransform.letterbox((960, 544), (640, 640)),
}


@pytest.mark.parametrize('name', NON_INTEGER_SCALES)
def test_non_integer_scales_are_pixel_exact(name):
    transform = NON_INTEGER_SCALES[name]
    objects = objects_in_content(transform)
    result = decode(build_heads((640, 640), 8, objects), transform)
    assert len(result) == 3
    for k, obj in enumerate(objects):
        got = result.masks[k].full(transform.source_wh)
        logits = reference_logits(transform, rect_plane(obj.mask_rect))
        want = (logits > 0) & in_box(transform, result.boxes_xyxy[k])
        assert want.sum() > 1000
        # Only pixels whose exact logit is 0 (a tie between +4 and -4) may go either way.
        differ = got != want
        assert not (differ & (logits != 0)).any(), np.argwhere(differ & (logits != 0))[:5]


@pytest.mark.parametrize('name', ['810x1080_letterbox', '1080p_stretch', '1080p_letterbox'])
def test_smooth_masks_match_the_float64_reference_at_any_scale(name):
    """Random smooth proto planes, not rectangles: every tap weight and position is checked."""
    transform = NON_INTEGER_SCALES.get(name) or ImageTransform.letterbox((1920, 1080), (640, 640))
    objects = objects_in_content(transform)
    outputs = build_heads((640, 640), 8, objects)
    rng = np.random.default_rng(5)
    coarse = rng.normal(0.0, 1.0, (20, 20, 32))
    smooth = np.stack([cv2.resize(coarse[..., c], (160, 160), interpolation=cv2.INTER_CUBIC)
                       for c in range(32)], axis=-1)
    outputs[9].data[0] = smooth.astype(np.float32)
    result = decode(outputs, transform)
    assert len(result) == 3
    protos = outputs[9].data[0].astype(np.float64)
    for k in range(len(objects)):
        coef = np.zeros(32)
        coef[k] = 1.0  # build_heads gives object k the unit coefficient vector k
        logits = reference_logits(transform, protos @ coef)
        inside = in_box(transform, result.boxes_xyxy[k])
        want = (logits > 0) & inside
        got = result.masks[k].full(transform.source_wh)
        assert 0.1 * inside.sum() < want.sum() < 0.9 * inside.sum()
        # float32 arithmetic: only logits within 1e-4 of the zero crossing may differ.
        differ = got != want
        assert not (differ & (np.abs(logits) > 1e-4)).any()


@pytest.mark.parametrize('name', ['810x1080_letterbox', '1080p_stretch', '1080p_letterbox'])
def test_instance_masks_are_0_or_1_windows_of_the_box_that_view_as_bool(name):
    """The documented mask form, on every upsampling path: box-sized, 0/1, a bool view away."""
    transform = NON_INTEGER_SCALES.get(name) or ImageTransform.letterbox((1920, 1080), (640, 640))
    result = decode(build_heads((640, 640), 8, objects_in_content(transform)), transform)
    assert len(result) == 3
    for k, instance in enumerate(result.masks):
        x1, y1, x2, y2 = np.ceil(result.boxes_xyxy[k]).astype(int)
        assert (instance.x0, instance.y0) == (x1, y1)
        assert instance.mask.dtype == np.uint8 and instance.mask.shape == (y2 - y1, x2 - x1)
        assert set(np.unique(instance.mask)) == {0, 1}
        full = instance.full(transform.source_wh)
        np.testing.assert_array_equal(instance.mask.view(bool), full[y1:y2, x1:x2])
        assert instance.area == full.sum() > 0


def fifty_objects(transform, seed=0):
    """
    50 overlapping objects of random size and place in the image content, distinct classes.

    Returns the float heads (each object's mask coefficients random, the protos smooth random
    fields) and the objects; object k is the only detection of class k.
    """
    rng = np.random.default_rng(seed)
    (px, py), (rw, rh) = transform.pad_xy, transform.resized_wh
    objects, cells = [], set()
    while len(objects) < 50:
        # At least a stride-32 cell wide: the box must hold its anchor, the cell centre.
        w, h = (max(rng.uniform(0.05, 0.45) * side, 33.0) for side in (rw, rh))
        x1, y1 = rng.uniform(px, px + rw - w), rng.uniform(py, py + rh - h)
        cell = (int((x1 + w / 2) // 32), int((y1 + h / 2) // 32))
        if cell not in cells and max(w, h) / 2 / 32 <= 14.5:
            cells.add(cell)
            objects.append(Planted(len(objects), float(rng.uniform(0.3, 0.95)),
                                   (x1, y1, x1 + w, y1 + h), stride=32))
    outputs = build_heads((640, 640), 50, objects)
    coarse = rng.normal(0.0, 1.0, (20, 20, 32))
    outputs[9].data[0] = np.stack([cv2.resize(coarse[..., c], (160, 160),
                                              interpolation=cv2.INTER_CUBIC)
                                   for c in range(32)], axis=-1).astype(np.float32)
    for obj in objects:  # the stride-32 mask coefficients sit at each object's cell
        x1, y1, x2, y2 = obj.box_xyxy
        outputs[2].data[0, int((y1 + y2) / 2 // 32), int((x1 + x2) / 2 // 32)] = \
            rng.normal(0.3, 1.0, 32).astype(np.float32)
    return outputs, objects


FIFTY_OBJECT_SCALES = {
    '1080p_letterbox': ImageTransform.letterbox((1920, 1080), (640, 640)),  # 12 px per proto px
    '1280x960_letterbox': ImageTransform.letterbox((1280, 960), (640, 640)),  # 8
    **NON_INTEGER_SCALES,
}


@pytest.mark.parametrize('name', [
    pytest.param(name, marks=[pytest.mark.slow] if name.startswith(('1080p', '1280x960')) else [])
    for name in FIFTY_OBJECT_SCALES])
def test_fifty_overlapping_masks_match_the_float64_reference(name):
    """Every mask of a crowded frame against the float64 bilinear logits of its coefficients."""
    transform = FIFTY_OBJECT_SCALES[name]
    outputs, objects = fifty_objects(transform)
    result = decode(outputs, transform)
    assert len(result) == 50 and sorted(result.class_ids.tolist()) == list(range(50))
    protos = outputs[9].data[0].astype(np.float64)
    checked = 0
    for k, class_id in enumerate(result.class_ids.tolist()):
        x1, y1, x2, y2 = objects[class_id].box_xyxy
        coef = outputs[2].data[0, int((y1 + y2) / 2 // 32), int((x1 + x2) / 2 // 32)]
        # Boxes reach the image edges here: positions clamp to the content's proto pixels.
        logits = reference_logits(transform, protos @ coef.astype(np.float64), content=True)
        inside = in_box(transform, result.boxes_xyxy[k])
        want = (logits > 0) & inside
        got = result.masks[k].full(transform.source_wh)
        # float32 arithmetic: only logits within 1e-4 of the zero crossing may differ.
        differ = got != want
        assert not (differ & (np.abs(logits) > 1e-4)).any(), (k, np.argwhere(
            differ & (np.abs(logits) > 1e-4))[:5])
        checked += int(0 < want.sum() < inside.sum())
    assert checked > 40  # most masks hold both inside and outside pixels


@pytest.mark.parametrize('name', ['1080p_letterbox', '810x1080_letterbox', '1080p_stretch'])
def test_each_of_fifty_masks_is_the_mask_its_object_gets_alone(name):
    """The frame's masks are computed together: none may see another's logits or rows."""
    transform = FIFTY_OBJECT_SCALES[name]
    outputs, _ = fifty_objects(transform, seed=1)
    together = decode(outputs, transform)
    assert len(together) == 50
    for k in (0, 7, 23, 49):
        class_id = int(together.class_ids[k])
        alone_outputs = [type(o)(o.data.copy(), o.scale) for o in outputs]
        for head in alone_outputs[6:9]:  # every other class below the threshold
            keep = head.data[..., class_id].copy()
            head.data[...] = -12.0
            head.data[..., class_id] = keep
        alone = decode(alone_outputs, transform)
        assert len(alone) == 1
        np.testing.assert_array_equal(alone.boxes_xyxy[0], together.boxes_xyxy[k])
        assert (alone.masks[0].x0, alone.masks[0].y0) == (together.masks[k].x0,
                                                          together.masks[k].y0)
        np.testing.assert_array_equal(alone.masks[0].mask, together.masks[k].mask)
