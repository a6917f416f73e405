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
Decode one frame's raw heads: class thresholds, boxes, NMS or top-k, full-resolution masks.

Boxes are DFL bins (YOLOv8, YOLO11, YOLOv9) or direct ltrb distances (YOLO26). Detections are
selected by NMS, or for a YOLO26 one-to-one (end-to-end) head by top-k over every (cell,
class) score without NMS, as ultralytics' end-to-end postprocess. The heads are found by
layout.py; masks are upsampled by masks.py; label images are drawn by render.py. NumPy and
OpenCV only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import math
from typing import Optional, Sequence

import cv2
import numpy as np

from yolov8_seg_ros.buffers import BufferPool
from yolov8_seg_ros.layout import (as_raw_output, DFL_BINS, HeadLayout, LayoutError, MASK_DIM,
                                   OutputLike, RawOutput, resolve_layout, shape_list)
from yolov8_seg_ros.masks import MaskSampler
from yolov8_seg_ros.transform import ImageTransform

# Class offset for class-aware NMS in one pass (larger than any image side), as ultralytics.
_CLASS_OFFSET = 7680.0
# Allowed values of the DecodeConfig fields (the node's parameter ranges use these).
DECODE_RANGES = {'conf_threshold': (0.0, 1.0), 'iou_threshold': (0.0, 1.0),
                 'max_det': (1, 10000), 'pre_nms_topk': (1, 100000)}
# How detections are selected. auto: top-k without NMS for a model decoded as end-to-end (a
# YOLO26 one2one export, per its metadata file), NMS for every other; nms / topk: always.
NMS_MODES = ('auto', 'nms', 'topk')


@dataclass(frozen=True)
class DecodeConfig:
    """Per-frame decode settings (all changeable between frames); the defaults are the node's."""

    conf_threshold: float = 0.25
    iou_threshold: float = 0.7
    max_det: int = 300
    pre_nms_topk: int = 1000
    agnostic_nms: bool = False
    classes: Optional[tuple[int, ...]] = None
    with_masks: bool = True
    # Also return the detections from this score up to conf_threshold, boxes and scores only
    # (SegmentationResult.low_*): the tracker's low set. None: none.
    low_score_threshold: Optional[float] = None
    nms_mode: str = 'auto'  # one of NMS_MODES

    def __post_init__(self) -> None:
        for name, (low, high) in DECODE_RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f'{name} {value}: expected {low}..{high}')
        if self.nms_mode not in NMS_MODES:
            raise ValueError(f'nms_mode {self.nms_mode!r}: expected one of {NMS_MODES}')
        if self.low_score_threshold is not None and not 0.0 < self.low_score_threshold <= 1.0:
            raise ValueError(f'low_score_threshold {self.low_score_threshold}: expected 0..1')


@dataclass(frozen=True)
class InstanceMask:
    """
    One instance's mask cropped to its box: rows y0.., columns x0.. of the source image.

    mask is uint8, 1 inside and 0 outside: mask.view(bool) is a NumPy boolean mask, and OpenCV
    takes it as it is as a mask (cv2.copyTo, cv2.add(..., mask=)). It may be a strided view.
    """

    x0: int
    y0: int
    mask: np.ndarray  # (h, w) uint8, 0 or 1

    @property
    def area(self) -> int:
        """Count the pixels inside the mask."""
        return cv2.countNonZero(self.mask) if self.mask.size else 0

    def full(self, image_wh: tuple[int, int]) -> np.ndarray:
        """Return the mask pasted into a boolean image of size image_wh."""
        out = np.zeros((image_wh[1], image_wh[0]), dtype=bool)
        h, w = self.mask.shape
        out[self.y0:self.y0 + h, self.x0:self.x0 + w] = self.mask != 0
        return out


@dataclass(frozen=True)
class SegmentationResult:
    """Detections sorted by descending score, in source-image pixels."""

    boxes_xyxy: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int32
    masks: tuple[InstanceMask, ...]  # N entries, or empty when masks were not requested
    image_wh: tuple[int, int]
    # Detections below conf_threshold down to DecodeConfig.low_score_threshold, by descending
    # score, for the tracker only (never published): (M, 4) float32 and (M,) float32.
    low_boxes_xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    low_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def _logit(p: float) -> float:
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def _rows(output: RawOutput, index: np.ndarray) -> np.ndarray:
    """Gather rows of a (1, h, w, C) head by flat cell index and dequantize only those."""
    data = output.data.reshape(-1, output.data.shape[-1])[index]
    if output.scale is None:
        return data.astype(np.float32, copy=False)
    return data.astype(np.float32) * output.scale.astype(np.float32, copy=False)


def _surviving_cells(cls_out: RawOutput, threshold: float) -> np.ndarray:
    """Flat indices of cells whose best class logit exceeds the threshold (logit space)."""
    logits = cls_out.data.reshape(-1, cls_out.data.shape[-1])
    if cls_out.scale is None:  # any() is several times faster than max() along a short axis
        return np.flatnonzero((logits > threshold).any(axis=1))
    scale = cls_out.scale.astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        per_channel = np.where(scale > 0, threshold / scale, np.inf)
    return np.flatnonzero((logits > per_channel).any(axis=1))


def _box_decode(box_rows: np.ndarray, cells: np.ndarray, grid_w: int, stride: int,
                reg_max: int) -> np.ndarray:
    """
    Box rows and flat cell indices -> (k, 4) xyxy boxes in input pixels.

    Rows are (k, 64) DFL bins (reg_max 16: softmax expectation per side) or (k, 4) left, top,
    right, bottom distances in stride units (reg_max 1, YOLO26: used as they are).
    """
    if reg_max == 1:
        distances = box_rows
    else:
        bins = box_rows.reshape(-1, 4, DFL_BINS)
        bins = np.exp(bins - bins.max(axis=2, keepdims=True))
        distances = (bins @ np.arange(DFL_BINS, dtype=np.float32)) / bins.sum(axis=2)
    cx = (cells % grid_w).astype(np.float32) + 0.5
    cy = (cells // grid_w).astype(np.float32) + 0.5
    boxes = np.stack([cx - distances[:, 0], cy - distances[:, 1],
                      cx + distances[:, 2], cy + distances[:, 3]], axis=1)
    return boxes * np.float32(stride)


def _nms(boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
         config: DecodeConfig) -> np.ndarray:
    """Greedy NMS (class-aware unless agnostic); indices of kept boxes by descending score."""
    if boxes_xyxy.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = 0.0 if config.agnostic_nms else class_ids.astype(np.float64) * _CLASS_OFFSET
    xywh = np.empty((boxes_xyxy.shape[0], 4), dtype=np.float64)
    xywh[:, 0] = boxes_xyxy[:, 0] + offsets
    xywh[:, 1] = boxes_xyxy[:, 1] + offsets
    xywh[:, 2] = boxes_xyxy[:, 2] - boxes_xyxy[:, 0]
    xywh[:, 3] = boxes_xyxy[:, 3] - boxes_xyxy[:, 1]
    # No top_k here: OpenCV applies it to the candidates before suppression.
    keep = cv2.dnn.NMSBoxes(xywh, scores.astype(np.float32), 0.0, float(config.iou_threshold))
    return np.asarray(keep, dtype=np.int64).reshape(-1)[:config.max_det]


class SegPostprocessor:
    """
    Turns one frame's raw outputs into a SegmentationResult; the layout is fixed at creation.

    end2end: the heads are a one-to-one (NMS-free) branch, decoded by top-k when the config's
    nms_mode is auto. Reuses its upsampling buffer from frame to frame: one instance per thread.
    """

    def __init__(self, layout: HeadLayout, end2end: bool = False) -> None:
        self.layout = layout
        self.end2end = end2end
        self._sampler: Optional[MaskSampler] = None  # for the last transform; owns a buffer
        self._arenas = BufferPool()

    @classmethod
    def for_outputs(cls, outputs: Sequence[OutputLike], roles: Optional[Sequence[str]] = None,
                    end2end: bool = False) -> SegPostprocessor:
        """Resolve the layout from a sample of outputs (shapes and quantization)."""
        outs = [as_raw_output(o) for o in outputs]
        return cls(resolve_layout([o.data.shape for o in outs],
                                  [o.scale is not None for o in outs], roles), end2end)

    def uses_nms(self, config: DecodeConfig) -> bool:
        """Return whether config selects detections by NMS (else by top-k score alone)."""
        if config.nms_mode == 'auto':
            return not self.end2end
        return config.nms_mode == 'nms'

    def __call__(self, outputs: Sequence[OutputLike], transform: ImageTransform,
                 config: DecodeConfig) -> SegmentationResult:
        """
        Decode one frame. outputs are in the order the layout was resolved for.

        With NMS each cell is one candidate, its best class (pre_nms_topk of them into NMS).
        With top-k every (cell, class) score above the threshold is a candidate and the
        max_det best are kept: a cell may give detections of several classes, as ultralytics'
        end-to-end head. The class filter applies before the selection in both.
        """
        outs = [as_raw_output(o) for o in outputs]
        self._check(outs, transform)
        published = _logit(config.conf_threshold)
        threshold = published if config.low_score_threshold is None else \
            min(published, _logit(config.low_score_threshold))
        use_nms = self.uses_nms(config)
        boxes, scores, class_ids, coef_refs = [], [], [], []
        for level in self.layout.levels:
            cells = _surviving_cells(outs[level.cls], threshold)
            if cells.size == 0:
                continue
            logits = _rows(outs[level.cls], cells)
            if use_nms:
                best = logits.argmax(axis=1)
                best_logit = logits[np.arange(cells.size), best]
                keep = best_logit > threshold
            else:
                rows, best = np.nonzero(logits > threshold)
                cells, best_logit = cells[rows], logits[rows, best]
                keep = np.ones(cells.size, dtype=bool)
            if config.classes is not None:
                keep &= np.isin(best, np.asarray(config.classes))
            cells, best, best_logit = cells[keep], best[keep], best_logit[keep]
            if cells.size == 0:
                continue
            boxes.append(_box_decode(_rows(outs[level.box], cells), cells, level.grid_hw[1],
                                     level.stride, self.layout.reg_max))
            scores.append(best_logit)
            class_ids.append(best)
            coef_refs.append((level.mask_coef, cells))
        if not boxes:
            return _empty_result(transform)
        boxes_in = np.concatenate(boxes)
        logit_all = np.concatenate(scores)
        class_all = np.concatenate(class_ids).astype(np.int32)
        if use_nms:
            kept = self._nms_selection(boxes_in, logit_all, class_all, config)
        else:
            kept = _top(logit_all, config.max_det)
        order = np.argsort(-logit_all[kept], kind='stable')
        kept = kept[order]
        # Greedy NMS never lets a lower score suppress a higher one (and top-k ranks by score
        # alone), so the detections at or above conf_threshold are the same as when decoding
        # at conf_threshold: a prefix.
        count = int(np.count_nonzero(logit_all[kept] > published))
        scores_kept = (1.0 / (1.0 + np.exp(-logit_all[kept]))).astype(np.float32)
        kept, low = kept[:count], kept[count:]
        boxes_src = transform.input_to_source_xyxy(boxes_in[kept])
        final_scores = scores_kept[:count]
        masks: tuple[InstanceMask, ...] = ()
        if config.with_masks:
            coefs = self._gather_coefficients(outs, coef_refs, kept)
            masks = self._masks(outs[self.layout.protos], coefs, boxes_src, transform)
        result = SegmentationResult(boxes_src, final_scores, class_all[kept], masks,
                                    transform.source_wh)
        if low.size:
            result = dataclasses.replace(
                result, low_boxes_xyxy=transform.input_to_source_xyxy(boxes_in[low]),
                low_scores=scores_kept[count:])
        return result

    @staticmethod
    def _nms_selection(boxes_in: np.ndarray, logit_all: np.ndarray, class_all: np.ndarray,
                       config: DecodeConfig) -> np.ndarray:
        """Return the indices NMS keeps among the pre_nms_topk best candidates."""
        top = _top(logit_all, config.pre_nms_topk)
        score_all = 1.0 / (1.0 + np.exp(-logit_all[top].astype(np.float32)))
        return top[_nms(boxes_in[top], score_all, class_all[top], config)]

    def _check(self, outs: list[RawOutput], transform: ImageTransform) -> None:
        layout = self.layout
        if len(outs) != 10 or outs[layout.protos].data.shape[1:3] != layout.proto_hw:
            raise LayoutError(f'outputs {shape_list([o.data.shape for o in outs])} do not match '
                              f'the layout resolved for this model')
        input_wh = (layout.input_hw[1], layout.input_hw[0])
        if tuple(transform.input_wh) != input_wh:
            raise ValueError(f'transform input size {transform.input_wh} != model input '
                             f'size {input_wh}')

    @staticmethod
    def _gather_coefficients(outs: list[RawOutput], coef_refs: list[tuple[int, np.ndarray]],
                             kept: np.ndarray) -> np.ndarray:
        offsets = np.cumsum([0] + [cells.size for _, cells in coef_refs])
        coefs = np.empty((kept.size, MASK_DIM), dtype=np.float32)
        for k, (head, cells) in enumerate(coef_refs):
            in_level = (kept >= offsets[k]) & (kept < offsets[k + 1])
            if in_level.any():
                coefs[in_level] = _rows(outs[head], cells[kept[in_level] - offsets[k]])
        return coefs

    def _masks(self, protos_out: RawOutput, coefs: np.ndarray, boxes_src: np.ndarray,
               transform: ImageTransform) -> tuple[InstanceMask, ...]:
        protos = protos_out.data[0]
        if protos_out.scale is not None:
            protos = protos.astype(np.float32) * protos_out.scale.astype(np.float32)
        sampler = self._sampler
        if sampler is None or sampler.transform != transform:
            sampler = self._sampler = MaskSampler(transform)
        src_w, src_h = transform.source_wh
        # Source pixels whose index lies in [x1, x2) x [y1, y2), as ultralytics' crop_mask.
        corners = np.ceil(boxes_src).astype(np.int64)
        np.minimum(corners[:, 2], src_w, out=corners[:, 2])
        np.minimum(corners[:, 3], src_h, out=corners[:, 3])
        boxes = corners.tolist()
        crops = [sampler.crop(box) if box[2] > box[0] and box[3] > box[1] else None
                 for box in boxes]
        regions = [sampler.region(crop, box) if crop else (0, 0, 0, 0)
                   for box, crop in zip(boxes, crops)]
        # Every mask of the frame lives in one recycled buffer: no page faults per mask.
        arena = self._arenas.take((sum(height * width for height, width, _, _ in regions),))
        offset = 0
        masks = []
        for box, crop, (height, width, _, _), coef in zip(boxes, crops, regions, coefs):
            if crop is None:
                masks.append(InstanceMask(box[0], box[1], np.zeros((0, 0), dtype=np.uint8)))
                continue
            x0, y0, x1, y1 = crop
            logits = protos[y0:y1, x0:x1] @ coef
            out = arena[offset:offset + height * width].reshape(height, width)
            masks.append(InstanceMask(box[0], box[1], sampler.mask(logits, crop, box, out)))
            offset += height * width
        return tuple(masks)


def _top(logits: np.ndarray, count: int) -> np.ndarray:
    """Return the indices of the count largest logits (all when fewer), unordered."""
    if logits.size <= count:
        return np.arange(logits.size)
    return np.argpartition(-logits, count - 1)[:count]


def _empty_result(transform: ImageTransform) -> SegmentationResult:
    return SegmentationResult(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                              np.zeros(0, np.int32), (), transform.source_wh)
