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
Decode the 10 split YOLOv8-seg heads into boxes and full-resolution instance masks (numpy).

The model contract (RDK X5 model zoo): per stride 8/16/32 a DFL box head (64 channels), a
mask-coefficient head (32) and a class-logit head (nc), plus protos (1, H/4, W/4, 32); all NHWC,
float32 or integer with a per-channel scale. Heads are identified by shape, never by index.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import NamedTuple, Optional, Sequence, Union

import cv2
import numpy as np

from yolov8_seg_ros.transform import ImageTransform

DFL_BINS = 16
BOX_CHANNELS = 4 * DFL_BINS
MASK_DIM = 32
PROTO_STRIDE = 4
STRIDES = (8, 16, 32)
ROLES = ('box', 'mask_coef', 'class', 'protos')
# Class offset for class-aware NMS in one pass (larger than any image side), as ultralytics.
_CLASS_OFFSET = 7680.0


class LayoutError(ValueError):
    """The model outputs do not form a valid YOLOv8-seg split-head layout."""


class RawOutput(NamedTuple):
    """One raw output tensor; scale is the per-channel dequantization scale (None for float)."""

    data: np.ndarray
    scale: Optional[np.ndarray] = None


OutputLike = Union[RawOutput, np.ndarray]


@dataclass(frozen=True)
class LevelHeads:
    """Output indices of one grid level's three heads."""

    stride: int
    grid_hw: tuple[int, int]
    box: int
    mask_coef: int
    cls: int


@dataclass(frozen=True)
class HeadLayout:
    """Which output is which head; computed once per model from the output shapes."""

    input_hw: tuple[int, int]
    num_classes: int
    levels: tuple[LevelHeads, ...]
    protos: int
    proto_hw: tuple[int, int]


@dataclass(frozen=True)
class DecodeConfig:
    """Per-frame decode settings (all changeable between frames)."""

    conf_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_det: int = 300
    pre_nms_topk: int = 1000
    agnostic_nms: bool = False
    classes: Optional[tuple[int, ...]] = None
    with_masks: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf_threshold <= 1.0:
            raise ValueError(f'conf_threshold {self.conf_threshold}: expected 0..1')
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError(f'iou_threshold {self.iou_threshold}: expected 0..1')
        if self.max_det < 1 or self.pre_nms_topk < 1:
            raise ValueError(f'max_det {self.max_det} and pre_nms_topk {self.pre_nms_topk} '
                             'must be >= 1')


@dataclass(frozen=True)
class InstanceMask:
    """A boolean mask stored cropped to its box: rows y0.., columns x0.. of the source image."""

    x0: int
    y0: int
    mask: np.ndarray  # (h, w) bool

    def full(self, image_wh: tuple[int, int]) -> np.ndarray:
        """Return the mask pasted into a boolean image of size image_wh."""
        out = np.zeros((image_wh[1], image_wh[0]), dtype=bool)
        h, w = self.mask.shape
        out[self.y0:self.y0 + h, self.x0:self.x0 + w] = self.mask
        return out


@dataclass(frozen=True)
class SegmentationResult:
    """Detections sorted by descending score, in source-image pixels."""

    boxes_xyxy: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int32
    masks: tuple[InstanceMask, ...]  # N entries, or empty when masks were not requested
    image_wh: tuple[int, int]

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def _as_output(item: OutputLike) -> RawOutput:
    if isinstance(item, RawOutput):
        return item
    return RawOutput(np.asarray(item), None)


def _shape_list(shapes: Sequence[tuple[int, ...]]) -> str:
    return ', '.join(str(tuple(int(d) for d in s)) for s in shapes)


def resolve_layout(shapes: Sequence[tuple[int, ...]],
                   quantized: Optional[Sequence[bool]] = None,
                   roles: Optional[Sequence[str]] = None) -> HeadLayout:
    """
    Identify every head by its NHWC shape; roles (one of ROLES per output) overrides.

    Where shapes alone are ambiguous (nc = 32 or 64) the quantization pattern of the modified
    BPU model (class heads float, the others integer) or the output grouping decides: grouped
    by role as the seed export ([mask_coef, box, class] x levels, protos) or by level as newer
    model-zoo models ([class, box, mask_coef] per level).
    """
    shapes = [tuple(int(d) for d in s) for s in shapes]
    problem = _layout_problem(shapes)
    if problem:
        raise LayoutError(f'model outputs {_shape_list(shapes)} are not a YOLOv8-seg split-head '
                          f'layout: {problem}')
    spatial = sorted({s[1:3] for s in shapes}, key=lambda hw: -hw[0] * hw[1])
    proto_hw, grids = spatial[0], spatial[1:]
    protos = [i for i, s in enumerate(shapes) if s[1:3] == proto_hw]
    level_of = {i: grids.index(s[1:3]) for i, s in enumerate(shapes) if i not in protos}
    if roles is not None:
        role_of = _explicit_roles(shapes, roles)
    else:
        role_of = _infer_roles(shapes, level_of, quantized)
    levels = []
    for level, grid in enumerate(grids):
        members = {role_of[i]: i for i, lv in level_of.items() if lv == level}
        levels.append(LevelHeads(STRIDES[level], grid, members['box'], members['mask_coef'],
                                 members['class']))
    num_classes = shapes[levels[0].cls][3]
    input_hw = (grids[0][0] * STRIDES[0], grids[0][1] * STRIDES[0])
    return HeadLayout(input_hw, num_classes, tuple(levels), protos[0], proto_hw)


def _layout_problem(shapes: list[tuple[int, ...]]) -> str:
    if len(shapes) != 10:
        return f'expected 10 outputs, got {len(shapes)}'
    if any(len(s) != 4 or s[0] != 1 or min(s) < 1 for s in shapes):
        return 'every output must be 4-D NHWC with batch 1'
    spatial = sorted({s[1:3] for s in shapes}, key=lambda hw: -hw[0] * hw[1])
    if len(spatial) != 4:
        return f'expected 4 spatial sizes (protos and 3 grid levels), got {len(spatial)}'
    proto_hw, g8, g16, g32 = spatial
    if not (g8 == (2 * g16[0], 2 * g16[1]) and g16 == (2 * g32[0], 2 * g32[1])
            and proto_hw == (2 * g8[0], 2 * g8[1])):
        return (f'grid sizes {g8}, {g16}, {g32} and protos {proto_hw} are not input/8, /16, '
                '/32 and /4 of one input size')
    protos = [s for s in shapes if s[1:3] == proto_hw]
    if len(protos) != 1 or protos[0][3] != MASK_DIM:
        return f'expected one protos tensor (1, {proto_hw[0]}, {proto_hw[1]}, {MASK_DIM})'
    per_level = [sorted(s[3] for s in shapes if s[1:3] == g) for g in (g8, g16, g32)]
    if any(len(c) != 3 for c in per_level) or per_level.count(per_level[0]) != 3:
        return 'each grid level needs the same three heads'
    channels = list(per_level[0])
    for needed in (BOX_CHANNELS, MASK_DIM):
        if needed not in channels:
            return f'each level needs a {needed}-channel head, got channels {per_level[0]}'
        channels.remove(needed)
    return ''


def _explicit_roles(shapes: list[tuple[int, ...]], roles: Sequence[str]) -> dict[int, str]:
    if len(roles) != len(shapes) or any(r not in ROLES for r in roles):
        raise LayoutError(f'role mapping {list(roles)}: expected one of {ROLES} for each of the '
                          f'{len(shapes)} outputs {_shape_list(shapes)}')
    for i, role in enumerate(roles):
        expected = {'box': BOX_CHANNELS, 'mask_coef': MASK_DIM, 'protos': MASK_DIM}.get(role)
        if expected is not None and shapes[i][3] != expected:
            raise LayoutError(f'output {i} {shapes[i]} cannot be {role!r}: it needs '
                              f'{expected} channels')
    return {i: r for i, r in enumerate(roles) if r != 'protos'}


def _infer_roles(shapes: list[tuple[int, ...]], level_of: dict[int, int],
                 quantized: Optional[Sequence[bool]]) -> dict[int, str]:
    role_of: dict[int, str] = {}
    for level in range(3):
        members = [i for i, lv in level_of.items() if lv == level]
        by_channels: dict[int, list[int]] = {}
        for i in members:
            by_channels.setdefault(shapes[i][3], []).append(i)
        if len(by_channels) == 3:
            for channels, (i,) in by_channels.items():
                role_of[i] = ('box' if channels == BOX_CHANNELS
                              else 'mask_coef' if channels == MASK_DIM else 'class')
            continue
        shared = next(c for c, idx in by_channels.items() if len(idx) == 2)
        other_role = 'box' if shared == BOX_CHANNELS else 'mask_coef'
        unique_channels = next(c for c, idx in by_channels.items() if len(idx) == 1)
        role_of[by_channels[unique_channels][0]] = ('box' if unique_channels == BOX_CHANNELS
                                                    else 'mask_coef')
        pair = sorted(by_channels[shared])
        class_index = _disambiguate(shapes, level_of, quantized, pair, other_role)
        role_of[class_index] = 'class'
        role_of[pair[0] if pair[1] == class_index else pair[1]] = other_role
    return role_of


def _disambiguate(shapes: list[tuple[int, ...]], level_of: dict[int, int],
                  quantized: Optional[Sequence[bool]], pair: list[int], other_role: str) -> int:
    """Return which of two same-shaped heads is the class head."""
    if quantized is not None and quantized[pair[0]] != quantized[pair[1]]:
        return pair[0] if not quantized[pair[0]] else pair[1]
    order = sorted(level_of)
    sequence = [level_of[i] for i in order]
    role_grouped = all(sorted(sequence[k:k + 3]) == [0, 1, 2] for k in (0, 3, 6))
    level_grouped = all(len(set(sequence[k:k + 3])) == 1 for k in (0, 3, 6))
    if role_grouped:  # seed export: mask_coef, box, class blocks -> class comes last
        return pair[1]
    if level_grouped:  # newer model zoo: class, box, mask_coef per level -> class comes first
        return pair[0]
    raise LayoutError(f'outputs {_shape_list(shapes)}: the class heads have the same shape as '
                      f'the {other_role} heads and the output order follows no known grouping; '
                      'pass an explicit role mapping')


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
    if cls_out.scale is None:
        return np.flatnonzero(logits.max(axis=1) > threshold)
    scale = cls_out.scale.astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        per_channel = np.where(scale > 0, threshold / scale, np.inf)
    return np.flatnonzero((logits > per_channel).any(axis=1))


def _dfl_decode(box_rows: np.ndarray, cells: np.ndarray, grid_w: int, stride: int) -> np.ndarray:
    """DFL rows (k, 64) and flat cell indices -> (k, 4) xyxy boxes in input pixels."""
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
    """Turns one frame's raw outputs into a SegmentationResult; the layout is fixed at creation."""

    def __init__(self, layout: HeadLayout) -> None:
        self.layout = layout

    @classmethod
    def for_outputs(cls, outputs: Sequence[OutputLike],
                    roles: Optional[Sequence[str]] = None) -> SegPostprocessor:
        """Resolve the layout from a sample of outputs (shapes and quantization)."""
        outs = [_as_output(o) for o in outputs]
        return cls(resolve_layout([o.data.shape for o in outs],
                                  [o.scale is not None for o in outs], roles))

    def __call__(self, outputs: Sequence[OutputLike], transform: ImageTransform,
                 config: DecodeConfig) -> SegmentationResult:
        """Decode one frame. outputs are in the order the layout was resolved for."""
        outs = [_as_output(o) for o in outputs]
        self._check(outs, transform)
        threshold = _logit(config.conf_threshold)
        boxes, scores, class_ids, coef_refs = [], [], [], []
        for level in self.layout.levels:
            cells = _surviving_cells(outs[level.cls], threshold)
            if cells.size == 0:
                continue
            logits = _rows(outs[level.cls], cells)
            best = logits.argmax(axis=1)
            best_logit = logits[np.arange(cells.size), best]
            keep = best_logit > threshold
            if config.classes is not None:
                keep &= np.isin(best, np.asarray(config.classes))
            cells, best, best_logit = cells[keep], best[keep], best_logit[keep]
            if cells.size == 0:
                continue
            boxes.append(_dfl_decode(_rows(outs[level.box], cells), cells, level.grid_hw[1],
                                     level.stride))
            scores.append(best_logit)
            class_ids.append(best)
            coef_refs.append((level.mask_coef, cells))
        if not boxes:
            return _empty_result(transform)
        boxes_in = np.concatenate(boxes)
        logit_all = np.concatenate(scores)
        class_all = np.concatenate(class_ids).astype(np.int32)
        if logit_all.size > config.pre_nms_topk:
            top = np.argpartition(-logit_all, config.pre_nms_topk - 1)[:config.pre_nms_topk]
        else:
            top = np.arange(logit_all.size)
        score_all = 1.0 / (1.0 + np.exp(-logit_all[top].astype(np.float32)))
        kept = top[_nms(boxes_in[top], score_all, class_all[top], config)]
        order = np.argsort(-logit_all[kept], kind='stable')
        kept = kept[order]
        boxes_src = transform.input_to_source_xyxy(boxes_in[kept])
        final_scores = (1.0 / (1.0 + np.exp(-logit_all[kept]))).astype(np.float32)
        masks: tuple[InstanceMask, ...] = ()
        if config.with_masks:
            coefs = self._gather_coefficients(outs, coef_refs, kept)
            masks = self._masks(outs[self.layout.protos], coefs, boxes_src, transform)
        return SegmentationResult(boxes_src, final_scores, class_all[kept], masks,
                                  transform.source_wh)

    def _check(self, outs: list[RawOutput], transform: ImageTransform) -> None:
        layout = self.layout
        if len(outs) != 10 or outs[layout.protos].data.shape[1:3] != layout.proto_hw:
            raise LayoutError(f'outputs {_shape_list([o.data.shape for o in outs])} do not match '
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
        geometry = _MaskGeometry(transform)
        src_w, src_h = transform.source_wh
        masks = []
        for box, coef in zip(boxes_src, coefs):
            # Source pixels whose index lies in [x1, x2) x [y1, y2), as ultralytics' crop_mask.
            u0, v0 = int(math.ceil(box[0])), int(math.ceil(box[1]))
            u1, v1 = min(int(math.ceil(box[2])), src_w), min(int(math.ceil(box[3])), src_h)
            if u1 <= u0 or v1 <= v0:
                masks.append(InstanceMask(u0, v0, np.zeros((0, 0), dtype=bool)))
                continue
            (cx0, cx1), (cy0, cy1) = geometry.crop_x(u0, u1), geometry.crop_y(v0, v1)
            # einsum, not matmul: BLAS threading costs far more than this tiny product.
            logits = np.einsum('hwc,c->hw', protos[cy0:cy1, cx0:cx1], coef)
            masks.append(InstanceMask(u0, v0, geometry.upsample(logits, cx0, cy0, u0, u1,
                                                                v0, v1) > 0.0))
        return tuple(masks)


class _MaskGeometry:
    """
    Where source pixels sample the proto plane, and the upsampling that does it exactly.

    Source pixel u (centre u + 0.5) samples proto coordinate (pad + (u + 0.5) * scale) / 4 - 0.5
    (pixel-centre convention, as bilinear interpolation with align_corners=False).
    Interpolation clamps at the edges of the proto pixels covered by the image content, not the
    letterbox padding, as ultralytics' scale_masks does after cropping the padding.
    """

    def __init__(self, transform: ImageTransform) -> None:
        self.step = (transform.scale_xy[0] / PROTO_STRIDE, transform.scale_xy[1] / PROTO_STRIDE)
        self.pad = (transform.pad_xy[0] / PROTO_STRIDE, transform.pad_xy[1] / PROTO_STRIDE)
        self.content = []
        for axis in (0, 1):  # proto pixels at least partly covered by the content
            start = int(math.floor(self.pad[axis]))
            end = int(math.ceil((transform.pad_xy[axis] + transform.resized_wh[axis])
                                / PROTO_STRIDE))
            self.content.append((start, max(end, start + 1)))
        # Integer source pixels per proto pixel, with proto edges on source pixel edges:
        # then cv2.resize by that factor samples exactly the right positions.
        self.factor = []
        for axis in (0, 1):
            factor = 1.0 / self.step[axis]
            offset = self.pad[axis] * factor
            exact = (abs(factor - round(factor)) < 1e-9 and abs(offset - round(offset)) < 1e-6
                     and round(factor) >= 1)
            self.factor.append(int(round(factor)) if exact else 0)

    def _sample(self, axis: int, index: float) -> float:
        return self.pad[axis] + (index + 0.5) * self.step[axis] - 0.5

    def _crop(self, axis: int, first: int, last: int) -> tuple[int, int]:
        low, high = self.content[axis]
        start = min(max(int(math.floor(self._sample(axis, first))), low), high - 1)
        end = min(max(int(math.floor(self._sample(axis, last - 1))) + 2, start + 1), high)
        return start, end

    def crop_x(self, u0: int, u1: int) -> tuple[int, int]:
        """Proto columns [start, end) needed to interpolate source columns [u0, u1)."""
        return self._crop(0, u0, u1)

    def crop_y(self, v0: int, v1: int) -> tuple[int, int]:
        """Proto rows [start, end) needed to interpolate source rows [v0, v1)."""
        return self._crop(1, v0, v1)

    def upsample(self, logits: np.ndarray, cx0: int, cy0: int, u0: int, u1: int, v0: int,
                 v1: int) -> np.ndarray:
        """Bilinear logits at the centres of source pixels [v0, v1) x [u0, u1)."""
        fx, fy = self.factor
        if fx and fy:
            # Proto pixel cx0's left edge is source pixel (cx0 - pad) * factor.
            x_start = u0 - int(round((cx0 - self.pad[0]) * fx))
            y_start = v0 - int(round((cy0 - self.pad[1]) * fy))
            big = cv2.resize(logits, (logits.shape[1] * fx, logits.shape[0] * fy),
                             interpolation=cv2.INTER_LINEAR)
            return big[y_start:y_start + v1 - v0, x_start:x_start + u1 - u0]
        affine = np.array([[self.step[0], 0.0, self._sample(0, u0) - cx0],
                           [0.0, self.step[1], self._sample(1, v0) - cy0]], dtype=np.float64)
        return cv2.warpAffine(logits, affine, (u1 - u0, v1 - v0),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)


def _empty_result(transform: ImageTransform) -> SegmentationResult:
    return SegmentationResult(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                              np.zeros(0, np.int32), (), transform.source_wh)


def render_instance_labels(result: SegmentationResult) -> np.ndarray:
    """
    (H, W) label image: 0 background, i + 1 for detection i; higher scores drawn on top.

    uint8 up to 255 detections, uint16 beyond.
    """
    dtype = np.uint8 if len(result) <= 255 else np.uint16
    values = np.arange(1, len(result) + 1)
    return _render(result, values, dtype)


def render_class_labels(result: SegmentationResult, num_classes: int) -> np.ndarray:
    """
    (H, W) label image as vision_msgs defines it: the class id where an instance covers the pixel.

    Background is the UNLABELED value, the dtype's maximum: 255 for uint8 (up to 255 classes),
    65535 for uint16.
    """
    dtype = np.uint8 if num_classes < 255 else np.uint16
    return _render(result, result.class_ids, dtype, background=np.iinfo(dtype).max)


def _render(result: SegmentationResult, values: np.ndarray, dtype: type,
            background: int = 0) -> np.ndarray:
    width, height = result.image_wh
    labels = np.full((height, width), background, dtype=dtype)
    # Detections are sorted by descending score: paint the lowest first so the best wins.
    for index in range(len(result.masks) - 1, -1, -1):
        instance = result.masks[index]
        h, w = instance.mask.shape
        if h == 0 or w == 0:
            continue
        view = labels[instance.y0:instance.y0 + h, instance.x0:instance.x0 + w]
        view[instance.mask] = values[index]
    return labels
