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
The standard ultralytics prediction rebuilt from the split heads, for parity tests and benches.

Uses ultralytics' own DFL (none for YOLO26's ltrb boxes), anchors, dist2bbox, end-to-end top-k
(Detect.postprocess), non_max_suppression, scale_boxes and mask processing with masks at the
original resolution (process_mask_native), on the very tensors our decoder gets.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import numpy as np
import torch
from ultralytics.nn.modules.block import DFL
from ultralytics.nn.modules.head import Detect
from ultralytics.utils import ops
from ultralytics.utils.nms import non_max_suppression
from ultralytics.utils.tal import dist2bbox, make_anchors
from yolov8_seg_ros.layout import HeadLayout, RawOutput
from yolov8_seg_ros.transform import ImageTransform


class Reference(NamedTuple):
    """ultralytics' boxes (source pixels), scores, classes and full-resolution masks."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    masks: np.ndarray  # (N, H, W) bool


def _float(output: RawOutput) -> torch.Tensor:
    data = output.data.astype(np.float32)
    if output.scale is not None:
        data = data * output.scale.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(data)).permute(0, 3, 1, 2)  # NCHW


def standard_prediction(outputs: Sequence[RawOutput], layout: HeadLayout,
                        end2end: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """
    (1, 4 + nc + 32, anchors) prediction as ultralytics' Segment head makes it, and protos.

    Boxes are xywh, or xyxy for an end-to-end head (Detect.decode_bboxes); DFL only where the
    box head has bins (reg_max 16), as the head's dfl is an Identity for YOLO26's reg_max 1.
    """
    feats = [torch.cat([_float(outputs[lv.box]), _float(outputs[lv.cls])], 1)
             for lv in layout.levels]
    anchors, strides = (t.transpose(0, 1) for t in make_anchors(feats, torch.tensor(
        [float(lv.stride) for lv in layout.levels]), 0.5))
    box = torch.cat([_float(outputs[lv.box]).flatten(2) for lv in layout.levels], 2)
    cls = torch.cat([_float(outputs[lv.cls]).flatten(2) for lv in layout.levels], 2)
    coef = torch.cat([_float(outputs[lv.mask_coef]).flatten(2) for lv in layout.levels], 2)
    distances = DFL(layout.reg_max)(box) if layout.reg_max > 1 else box
    boxes = dist2bbox(distances, anchors.unsqueeze(0), xywh=not end2end, dim=1) * strides
    prediction = torch.cat([boxes, cls.sigmoid(), coef], 1)
    return prediction, _float(outputs[layout.protos])[0]


class _EndToEndTopK:
    """ultralytics' own end-to-end selection (Detect.postprocess and its top-k), head-free."""

    export = False
    dynamic = False
    postprocess = Detect.postprocess
    get_topk_index = Detect.get_topk_index
    _gather = Detect._gather
    _grouped_topk = staticmethod(Detect._grouped_topk)

    def __init__(self, nc: int, max_det: int, agnostic_nms: bool) -> None:
        self.nc, self.max_det, self.agnostic_nms = nc, max_det, agnostic_nms
        self.format = None  # the export format get_topk_index asks for: none


def reference_decode(outputs: Sequence[RawOutput], layout: HeadLayout,
                     transform: ImageTransform, conf: float = 0.25, iou: float = 0.45,
                     max_det: int = 300, classes: Optional[Sequence[int]] = None,
                     agnostic: bool = False, end2end: bool = False) -> Reference:
    """
    Run ultralytics' NMS and native-resolution mask processing on the split heads.

    end2end: its NMS-free path instead, as its predictor with nms=False: the head's top-k of
    max(max_det, 300), then non_max_suppression's end-to-end branch (conf, classes, max_det).
    """
    prediction, protos = standard_prediction(outputs, layout, end2end)
    if end2end:
        prediction = _EndToEndTopK(layout.num_classes, max(max_det, 300), agnostic).postprocess(
            prediction.permute(0, 2, 1))
    det = non_max_suppression(prediction, conf, iou, classes=list(classes) if classes else None,
                              agnostic=agnostic, max_det=max_det, nc=layout.num_classes,
                              end2end=end2end)[0]
    src_w, src_h = transform.source_wh
    in_h, in_w = layout.input_hw
    boxes = det[:, :4].clone()
    if transform.mode == 'letterbox':
        boxes = ops.scale_boxes((in_h, in_w), boxes, (src_h, src_w))
        masks = ops.process_mask_native(protos, det[:, 6:], boxes, (src_h, src_w))
    else:
        sx, sy = transform.scale_xy
        boxes[:, [0, 2]] /= sx
        boxes[:, [1, 3]] /= sy
        boxes = ops.clip_boxes(boxes, (src_h, src_w))
        mh, mw = protos.shape[1:]
        logits = (det[:, 6:] @ protos.reshape(protos.shape[0], -1)).reshape(-1, mh, mw)
        logits = ops.scale_masks(logits[None], (src_h, src_w),
                                 ratio_pad=((mh / src_h, mw / src_w), (0, 0)), padding=False)[0]
        masks = ops.crop_mask(logits, boxes).gt(0.0)
    return Reference(boxes.numpy(), det[:, 4].numpy(), det[:, 5].numpy().astype(int),
                     masks.numpy().astype(bool))
