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
Which of a YOLOv8-seg model's 10 split outputs is which head, from their shapes alone.

The model contract (RDK X5 model zoo): per stride 8/16/32 a DFL box head (64 channels), a
mask-coefficient head (32) and a class-logit head (nc), plus protos (1, H/4, W/4, 32); all NHWC,
float32 or integer with a per-channel scale. Heads are identified by shape, never by index.
Backends depend on this module only; decoding lives in decode.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

DFL_BINS = 16
BOX_CHANNELS = 4 * DFL_BINS
MASK_DIM = 32
PROTO_STRIDE = 4
STRIDES = (8, 16, 32)
ROLES = ('box', 'mask_coef', 'class', 'protos')


class LayoutError(ValueError):
    """The model outputs do not form a valid YOLOv8-seg split-head layout."""


class RawOutput(NamedTuple):
    """One raw output tensor; scale is the per-channel dequantization scale (None for float)."""

    data: np.ndarray
    scale: Optional[np.ndarray] = None


OutputLike = Union[RawOutput, np.ndarray]


def as_raw_output(item: OutputLike) -> RawOutput:
    """Wrap a plain array as a float RawOutput; RawOutputs pass through."""
    if isinstance(item, RawOutput):
        return item
    return RawOutput(np.asarray(item), None)


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


def shape_list(shapes: Sequence[tuple[int, ...]]) -> str:
    """Shapes as '(1, 80, 80, 64), ...' for error messages."""
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
        raise LayoutError(f'model outputs {shape_list(shapes)} are not a YOLOv8-seg split-head '
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
                          f'{len(shapes)} outputs {shape_list(shapes)}')
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
    raise LayoutError(f'outputs {shape_list(shapes)}: the class heads have the same shape as '
                      f'the {other_role} heads and the output order follows no known grouping; '
                      'pass an explicit role mapping')
