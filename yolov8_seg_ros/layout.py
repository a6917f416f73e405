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
Which of a YOLO-seg model's 10 split outputs is which head, from their shapes alone.

The model contract (RDK X5 model zoo): per stride 8/16/32 a box head, a mask-coefficient head
(32) and a class-logit head (nc), plus protos (1, H/4, W/4, 32); all NHWC, float32 or integer
with a per-channel scale. The box head is 64 channels of DFL bins (YOLOv8, YOLO11, YOLOv9) or
4 direct left/top/right/bottom distances (YOLO26, reg_max 1). Heads are identified by shape,
never by index; where shapes alone cannot tell (a 4-class YOLO26, a 4-class DFL model against
a 64-class YOLO26, nc = 32 or 64), the quantization pattern or the position in the output
order decides. Backends depend on this module only; decoding lives in decode.py.
"""

from __future__ import annotations

from dataclasses import dataclass
import itertools
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

DFL_BINS = 16
BOX_CHANNELS = 4 * DFL_BINS  # DFL box head: 16 bins per side
LTRB_CHANNELS = 4  # YOLO26 box head: the four distances themselves (reg_max 1)
BOX_BINS = {BOX_CHANNELS: DFL_BINS, LTRB_CHANNELS: 1}  # box head channels -> bins per side
MASK_DIM = 32
PROTO_STRIDE = 4
STRIDES = (8, 16, 32)
ROLES = ('box', 'mask_coef', 'class', 'protos')


class LayoutError(ValueError):
    """The model outputs do not form a valid YOLO-seg split-head layout."""


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
    # Bins per box side: 16 for a DFL box head (64 channels), 1 for direct ltrb distances
    # (YOLO26's 4 channels), as ultralytics' reg_max.
    reg_max: int = DFL_BINS


def shape_list(shapes: Sequence[tuple[int, ...]]) -> str:
    """Shapes as '(1, 80, 80, 64), ...' for error messages."""
    return ', '.join(str(tuple(int(d) for d in s)) for s in shapes)


def resolve_layout(shapes: Sequence[tuple[int, ...]],
                   quantized: Optional[Sequence[bool]] = None,
                   roles: Optional[Sequence[str]] = None) -> HeadLayout:
    """
    Identify every head by its NHWC shape; roles (one of ROLES per output) overrides.

    Where shapes alone are ambiguous the quantization pattern of the modified BPU model (class
    heads float, the others integer) or the output order decides. Every known order puts the
    box heads in the middle: grouped by role as the seed export ([mask_coef, box, class] x
    levels, protos) or by level as model-zoo models ([class, box, mask_coef] per level, or
    the reverse). So a 4-channel box head is told from a 4-class head, and a 64-channel DFL
    head from 64 classes, by that position; nc = 32 puts the class head first in a level and
    last in the seed order.
    """
    shapes = [tuple(int(d) for d in s) for s in shapes]
    problem = _layout_problem(shapes)
    if problem:
        raise LayoutError(f'model outputs {shape_list(shapes)} are not a YOLO-seg split-head '
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
    box_channels = {shapes[level.box][3] for level in levels}
    if len(box_channels) != 1:
        raise LayoutError(f'outputs {shape_list(shapes)}: the box heads of the three levels '
                          f'differ in channels {sorted(box_channels)}')
    input_hw = (grids[0][0] * STRIDES[0], grids[0][1] * STRIDES[0])
    return HeadLayout(input_hw, num_classes, tuple(levels), protos[0], proto_hw,
                      BOX_BINS[box_channels.pop()])


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
    if MASK_DIM not in channels:
        return f'each level needs a {MASK_DIM}-channel head, got channels {per_level[0]}'
    channels.remove(MASK_DIM)
    if not set(channels) & set(BOX_BINS):
        return (f'each level needs a box head of {BOX_CHANNELS} (DFL) or {LTRB_CHANNELS} (ltrb) '
                f'channels, got channels {per_level[0]}')
    return ''


def _explicit_roles(shapes: list[tuple[int, ...]], roles: Sequence[str]) -> dict[int, str]:
    if len(roles) != len(shapes) or any(r not in ROLES for r in roles):
        raise LayoutError(f'role mapping {list(roles)}: expected one of {ROLES} for each of the '
                          f'{len(shapes)} outputs {shape_list(shapes)}')
    for i, role in enumerate(roles):
        expected = {'box': tuple(BOX_BINS), 'mask_coef': (MASK_DIM,),
                    'protos': (MASK_DIM,)}.get(role)
        if expected is not None and shapes[i][3] not in expected:
            raise LayoutError(f'output {i} {shapes[i]} cannot be {role!r}: it needs '
                              f'{" or ".join(map(str, expected))} channels')
    return {i: r for i, r in enumerate(roles) if r != 'protos'}


def _infer_roles(shapes: list[tuple[int, ...]], level_of: dict[int, int],
                 quantized: Optional[Sequence[bool]]) -> dict[int, str]:
    slot_of, expected_slot = _slots(level_of)
    role_of: dict[int, str] = {}
    for level in range(3):
        members = sorted(i for i, lv in level_of.items() if lv == level)
        options = [dict(zip(('class', 'box', 'mask_coef'), order))
                   for order in itertools.permutations(members)
                   if shapes[order[1]][3] in BOX_BINS and shapes[order[2]][3] == MASK_DIM]
        if len(options) > 1 and quantized is not None:
            # The modified BPU model: class heads float, box and mask coefficients integer.
            by_pattern = [o for o in options if not quantized[o['class']]
                          and quantized[o['box']] and quantized[o['mask_coef']]]
            options = by_pattern or options
        for role in ('box', 'class'):  # the box position first: it is the same in every order
            if len(options) > 1 and expected_slot is not None:
                by_slot = [o for o in options if slot_of[o[role]] == expected_slot[role]]
                options = by_slot or options
        if len(options) > 1:
            channels = sorted(shapes[i][3] for i in members)
            raise LayoutError(f'outputs {shape_list(shapes)}: the heads of channels {channels} '
                              'can be read more than one way and the output order follows no '
                              'known grouping; pass an explicit role mapping')
        role_of.update({index: role for role, index in options[0].items()})
    return role_of


def _slots(level_of: dict[int, int]) -> tuple[dict[int, int], Optional[dict[str, int]]]:
    """
    Each head's slot (0, 1, 2) in the output order and the slot each role has there.

    Grouped by level ([class, box, mask_coef] per level; model zoo): the slot is the position
    in the level's triple. Grouped by role ([mask_coef] x 3, [box] x 3, [class] x 3; the seed
    export): the slot is the block. Any other order: no expected slots (None).
    """
    order = sorted(level_of)
    sequence = [level_of[i] for i in order]
    if all(len(set(sequence[k:k + 3])) == 1 for k in (0, 3, 6)):
        return ({i: position % 3 for position, i in enumerate(order)},
                {'class': 0, 'box': 1, 'mask_coef': 2})
    if all(sorted(sequence[k:k + 3]) == [0, 1, 2] for k in (0, 3, 6)):
        return ({i: position // 3 for position, i in enumerate(order)},
                {'mask_coef': 0, 'box': 1, 'class': 2})
    return dict.fromkeys(order, -1), None
