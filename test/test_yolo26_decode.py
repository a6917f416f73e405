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

"""YOLO26 heads on crafted tensors: layout by shape and position, ltrb boxes, top-k or NMS."""

from pathlib import Path

from helpers.synthetic_heads import build_heads, Planted
from helpers.yolo26_heads import build_yolo26_heads, cell_for, ORDERS
import numpy as np
import pytest
import yaml
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor
from yolov8_seg_ros.layout import LayoutError, resolve_layout
from yolov8_seg_ros.model_metadata import (check_fits, metadata_document, metadata_path,
                                           model_metadata, ModelMetadataError,
                                           read_model_metadata, write_metadata)
from yolov8_seg_ros.parameters import default_values, runtime_config, validate
from yolov8_seg_ros.transform import ImageTransform

STRETCH = ImageTransform.stretch((640, 640), (640, 640))
# Two overlapping boxes of one object from neighbouring cells (what NMS removes), a cell whose
# two best classes both score (a one2one head may report both), and a distant object.
CELLS = [
    cell_for((100.0, 100.0, 180.0, 164.0), {1: 0.9, 3: 0.6}, mask_rect=(25, 25, 45, 41)),
    cell_for((102.0, 98.0, 186.0, 166.0), {1: 0.7}, stride=16),
    cell_for((400.0, 300.0, 520.0, 460.0), {0: 0.8}, stride=32, mask_rect=(100, 75, 130, 115)),
]


def decoder(outputs, end2end):
    return SegPostprocessor.for_outputs(outputs, end2end=end2end)


# Not 32 classes in the reversed per-level order: the one ambiguous case (class and mask
# coefficients alike, a level is read as [class, box, mask_coef]).
@pytest.mark.parametrize('order, nc', [(order, nc) for order in sorted(ORDERS)
                                       for nc in (4, 32, 64, 80)
                                       if (order, nc) != ('level_reversed', 32)])
def test_the_4_channel_box_head_is_told_from_a_4_class_head_by_its_position(order, nc):
    outputs = build_yolo26_heads((640, 640), nc, CELLS[:1], order=order)
    layout = resolve_layout([o.data.shape for o in outputs])
    assert layout.reg_max == 1 and layout.num_classes == nc
    for level in layout.levels:
        assert outputs[level.box].data.shape[-1] == 4
        assert outputs[level.cls].data.shape[-1] == nc
        # The crafted class head is the only one with negative logits everywhere.
        assert outputs[level.cls].data.max() < 0 or level.stride == 8
    result = decoder(outputs, True)(outputs, STRETCH, DecodeConfig())
    assert result.class_ids.tolist() == [1, 3]
    np.testing.assert_allclose(result.boxes_xyxy, [[100, 100, 180, 164]] * 2, atol=1e-4)


def test_a_64_class_yolo26_and_a_4_class_dfl_model_are_told_apart_by_position():
    yolo26 = build_yolo26_heads((640, 640), 64, CELLS[:1], order='level')
    dfl = build_heads((640, 640), 4, [Planted(1, 0.9, (100.0, 100.0, 180.0, 164.0))],
                      order='level')
    assert sorted(o.data.shape[-1] for o in yolo26) == sorted(o.data.shape[-1] for o in dfl)
    assert resolve_layout([o.data.shape for o in yolo26]).reg_max == 1
    layout = resolve_layout([o.data.shape for o in dfl])
    assert layout.reg_max == 16 and layout.num_classes == 4


def test_the_int32_pattern_decides_without_a_known_order_and_else_it_is_an_error():
    outputs = build_yolo26_heads((640, 640), 4, CELLS, quantize=True)
    mixed = [outputs[k] for k in (9, 6, 1, 3, 7, 2, 4, 8, 0, 5)]  # no grouping at all
    layout = resolve_layout([o.data.shape for o in mixed], [o.scale is not None for o in mixed])
    assert all(mixed[lv.cls].scale is None and mixed[lv.box].scale is not None
               for lv in layout.levels)
    with pytest.raises(LayoutError, match='explicit role mapping'):
        resolve_layout([o.data.shape for o in mixed])
    result = SegPostprocessor(layout, end2end=True)(mixed, STRETCH, DecodeConfig())
    assert result.class_ids.tolist() == [1, 0, 1, 3]
    np.testing.assert_allclose(result.boxes_xyxy[0], [100, 100, 180, 164], atol=0.01)


def test_box_heads_of_different_kinds_per_level_are_refused():
    shapes = [(1, 80, 80, 32), (1, 40, 40, 32), (1, 20, 20, 32), (1, 80, 80, 4),
              (1, 40, 40, 64), (1, 20, 20, 4), (1, 80, 80, 80), (1, 40, 40, 80),
              (1, 20, 20, 80), (1, 160, 160, 32)]
    with pytest.raises(LayoutError, match=r'\(1, 80, 80, 32\)'):
        resolve_layout(shapes)


@pytest.mark.parametrize('quantize', [False, True])
def test_one2one_heads_decode_by_top_k_without_nms(quantize):
    outputs = build_yolo26_heads((640, 640), 4, CELLS, quantize=quantize)
    result = decoder(outputs, True)(outputs, STRETCH, DecodeConfig())
    # Every (cell, class) score above the threshold, best first: the overlapping box and the
    # second class of the first cell stay (the model was trained not to produce duplicates).
    np.testing.assert_allclose(result.scores, [0.9, 0.8, 0.7, 0.6], atol=1e-4)
    assert result.class_ids.tolist() == [1, 0, 1, 3]
    expected = [[100, 100, 180, 164], [400, 300, 520, 460], [102, 98, 186, 166],
                [100, 100, 180, 164]]
    np.testing.assert_allclose(result.boxes_xyxy, expected, atol=0.02 if quantize else 1e-4)
    # Masks: the two detections of one cell share its mask coefficients.
    np.testing.assert_array_equal(result.masks[0].full((640, 640)),
                                  result.masks[3].full((640, 640)))
    assert result.masks[0].area > 0.5 * 80 * 64 and result.masks[1].area > 0.5 * 120 * 160


def test_nms_mode_overrides_the_branch_both_ways():
    outputs = build_yolo26_heads((640, 640), 4, CELLS)
    one2one, one2many = decoder(outputs, True), decoder(outputs, False)
    nms = DecodeConfig(nms_mode='nms')
    topk = DecodeConfig(nms_mode='topk')
    # NMS: one class per cell, the overlapping lower-score box of the same class suppressed.
    for result in (one2many(outputs, STRETCH, DecodeConfig()), one2one(outputs, STRETCH, nms)):
        assert result.class_ids.tolist() == [1, 0]
        np.testing.assert_allclose(result.scores, [0.9, 0.8], atol=1e-4)
    for result in (one2one(outputs, STRETCH, DecodeConfig()), one2many(outputs, STRETCH, topk)):
        assert result.class_ids.tolist() == [1, 0, 1, 3]


def test_top_k_keeps_max_det_applies_classes_first_and_splits_the_low_set():
    outputs = build_yolo26_heads((640, 640), 4, CELLS)
    decode = decoder(outputs, True)
    assert decode(outputs, STRETCH, DecodeConfig(max_det=2)).class_ids.tolist() == [1, 0]
    # The class filter comes before the top-k: max_det counts the wanted classes only.
    only_one = decode(outputs, STRETCH, DecodeConfig(max_det=2, classes=(1,)))
    np.testing.assert_allclose(only_one.scores, [0.9, 0.7], atol=1e-4)
    # The tracker's low set: below conf_threshold, boxes and scores only, after the published.
    split = decode(outputs, STRETCH, DecodeConfig(conf_threshold=0.75, low_score_threshold=0.5))
    np.testing.assert_allclose(split.scores, [0.9, 0.8], atol=1e-4)
    np.testing.assert_allclose(split.low_scores, [0.7, 0.6], atol=1e-4)
    assert len(split.masks) == 2
    with pytest.raises(ValueError, match='nms_mode'):
        DecodeConfig(nms_mode='off')


def test_ltrb_boxes_map_through_the_letterbox_to_source_pixels():
    outputs = build_yolo26_heads((640, 640), 4, CELLS[2:], order='level')
    transform = ImageTransform.letterbox((1280, 960), (640, 640))
    result = decoder(outputs, True)(outputs, transform, DecodeConfig())
    np.testing.assert_allclose(result.boxes_xyxy, [[800, 440, 1040, 760]], atol=1e-3)
    full = result.masks[0].full(transform.source_wh)
    assert full[600, 900] and not full[430, 900] and not full[600, 1050]


def test_the_nms_mode_parameter_reaches_the_decoder():
    values = default_values()
    assert values['nms_mode'] == 'auto'
    assert runtime_config({**values, 'nms_mode': 'topk'}).decode.nms_mode == 'topk'
    assert validate('nms_mode', 'off') and validate('nms_mode', 'nms') is None
    listed = yaml.safe_load((Path(__file__).parents[1] / 'config' / 'seg.yaml').read_text())
    assert listed['/**']['ros__parameters']['nms_mode'] == 'auto'


def document(**changes):
    return {**metadata_document(['a', 'b', 'c', 'd'], (640, 640), True, 'Segment26', 'float32',
                                '8.4.190', '2026-12-07'), **changes}


def test_metadata_beside_the_model_is_found_read_and_checked(tmp_path):
    model = tmp_path / 'y26.bin'
    model.write_bytes(b'')
    layout = resolve_layout([o.data.shape for o in build_yolo26_heads((640, 640), 4, CELLS)])
    assert metadata_path(str(model)) is None and model_metadata(str(model), layout) is None
    folder_file = write_metadata(tmp_path / 'metadata.yaml',
                                 document(end2end=False, branch='one2many'))
    assert metadata_path(str(model)) == folder_file  # ultralytics' RDK package form
    own = write_metadata(tmp_path / 'y26.metadata.yaml', document())
    assert metadata_path(str(model)) == own  # the model's own file wins
    metadata = model_metadata(str(model), layout)
    assert metadata.end2end and metadata.branch == 'one2one'
    assert metadata.names == ('a', 'b', 'c', 'd') and metadata.imgsz == (640, 640)
    # ultralytics writes names as a mapping; a list is accepted too.
    write_metadata(own, document(names=['w', 'x', 'y', 'z'], imgsz=640))
    assert read_model_metadata(str(model)).names == ('w', 'x', 'y', 'z')
    write_metadata(own, document(imgsz=[320, 320]))
    with pytest.raises(ModelMetadataError, match=r'320x320.*another model'):
        check_fits(read_model_metadata(str(model)), layout)
    write_metadata(own, document(names=['a']))
    with pytest.raises(ModelMetadataError, match='1 classes'):
        model_metadata(str(model), layout)


@pytest.mark.parametrize('changes, match', [
    ({'end2end': 'yes'}, 'end2end'),
    ({'branch': 'both'}, 'branch'),
    ({'branch': 'one2many'}, 'contradicts'),
    ({'task': 'detect'}, 'task'),
    ({'names': {0: 'a', 2: 'b'}}, 'names'),
    ({'imgsz': [640]}, 'imgsz'),
    ({'layout': 'int8'}, 'layout'),
])
def test_a_bad_metadata_file_is_refused_naming_the_field(tmp_path, changes, match):
    write_metadata(tmp_path / 'm.metadata.yaml', document(**changes))
    with pytest.raises(ModelMetadataError, match=match):
        read_model_metadata(str(tmp_path / 'm.onnx'))
    (tmp_path / 'm.metadata.yaml').write_text('- not a mapping\n')
    with pytest.raises(ModelMetadataError, match='mapping'):
        read_model_metadata(str(tmp_path / 'm.onnx'))
