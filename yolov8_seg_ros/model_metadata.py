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
The small metadata file beside a model: which head branch it carries, class names, input size.

A YOLO26 one2one (end-to-end) export and its one2many export have the same output shapes, so
only this file tells them apart. Its form follows ultralytics' export metadata (the
metadata.yaml that ultralytics' RDK export pull request 24019 writes beside the .bin): task,
head, imgsz, names, end2end, plus this package's branch and layout. It is looked up as
MODEL.metadata.yaml (e.g. yolo26n-seg.metadata.yaml beside yolo26n-seg.onnx), else as
metadata.yaml in the model's folder (the pull request's package folder). A model without one
(the model zoo's published .bin files) is decoded with NMS, which is right for either branch.
No rclpy, no ultralytics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from yolov8_seg_ros.layout import HeadLayout

SUFFIX = '.metadata.yaml'
FOLDER_FILE = 'metadata.yaml'
BRANCHES = ('one2one', 'one2many')


class ModelMetadataError(ValueError):
    """A metadata file exists but cannot be read or does not fit the model; says which and why."""


@dataclass(frozen=True)
class ModelMetadata:
    """What the node takes from the metadata file."""

    path: Path
    end2end: bool  # the outputs are the one2one (NMS-free) branch: decode by top-k
    names: Optional[tuple[str, ...]]  # class names in model order, when the file has them
    imgsz: Optional[tuple[int, int]]  # model input (height, width), when the file has it
    layout: Optional[str]  # the .bin output layout it was exported for ('int32', 'float32')

    @property
    def branch(self) -> str:
        """Return 'one2one' or 'one2many'."""
        return BRANCHES[0] if self.end2end else BRANCHES[1]


def metadata_path(model_path: str) -> Optional[Path]:
    """Return the metadata file that belongs to model_path, or None when there is none."""
    model = Path(model_path)
    for candidate in (model.with_name(model.stem + SUFFIX), model.with_name(FOLDER_FILE)):
        if candidate.is_file():
            return candidate
    return None


def read_model_metadata(model_path: str) -> Optional[ModelMetadata]:
    """Read the metadata beside model_path (None: no file); raises ModelMetadataError."""
    path = metadata_path(model_path)
    if path is None:
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelMetadataError(f'model metadata {str(path)!r} cannot be read: {error}') \
            from error
    if not isinstance(document, dict):
        raise ModelMetadataError(f'model metadata {str(path)!r}: expected a YAML mapping')
    return parse_metadata(document, path)


def parse_metadata(document: dict[str, Any], path: Path) -> ModelMetadata:
    """Validate one metadata mapping; raises ModelMetadataError naming the field."""
    def problem(text: str) -> ModelMetadataError:
        return ModelMetadataError(f'model metadata {str(path)!r}: {text}')

    task = document.get('task', 'segment')
    if task != 'segment':
        raise problem(f'task {task!r}: this node runs segmentation models (task segment)')
    end2end = document.get('end2end', False)
    if not isinstance(end2end, bool):
        raise problem(f'end2end {end2end!r}: expected true or false')
    branch = document.get('branch')
    if branch is not None and branch not in BRANCHES:
        raise problem(f'branch {branch!r}: expected one of {BRANCHES}')
    if branch is not None and (branch == 'one2one') != end2end:
        raise problem(f'branch {branch} contradicts end2end {str(end2end).lower()}')
    names = document.get('names')
    if names is not None:
        if isinstance(names, dict) and sorted(names) == list(range(len(names))):
            names = [names[k] for k in range(len(names))]
        if not isinstance(names, list) or not names \
                or not all(isinstance(n, str) and n for n in names):
            raise problem(f'names {names!r}: expected class names in model order (a list, or '
                          'a mapping 0..n-1 as ultralytics writes it)')
    imgsz = document.get('imgsz')
    if imgsz is not None:
        if isinstance(imgsz, int) and not isinstance(imgsz, bool):
            imgsz = [imgsz, imgsz]
        if not isinstance(imgsz, list) or len(imgsz) != 2 \
                or not all(isinstance(v, int) and v > 0 for v in imgsz):
            raise problem(f'imgsz {imgsz!r}: expected [height, width]')
    layout = document.get('layout')
    if layout is not None and layout not in ('int32', 'float32'):
        raise problem(f"layout {layout!r}: expected 'int32' or 'float32'")
    return ModelMetadata(path, end2end, None if names is None else tuple(names),
                         None if imgsz is None else (imgsz[0], imgsz[1]), layout)


def check_fits(metadata: ModelMetadata, layout: HeadLayout) -> None:
    """Raise ModelMetadataError when the file describes another model than these outputs."""
    where = f'model metadata {str(metadata.path)!r}'
    if metadata.names is not None and len(metadata.names) != layout.num_classes:
        raise ModelMetadataError(f'{where} names {len(metadata.names)} classes, the model '
                                 f'outputs have {layout.num_classes}: it belongs to another '
                                 'model')
    if metadata.imgsz is not None and metadata.imgsz != layout.input_hw:
        raise ModelMetadataError(f'{where} says input {metadata.imgsz[0]}x{metadata.imgsz[1]}, '
                                 f'the model takes {layout.input_hw[0]}x{layout.input_hw[1]} '
                                 '(height x width): it belongs to another model')


def model_metadata(model_path: str, layout: HeadLayout) -> Optional[ModelMetadata]:
    """Read the metadata beside model_path and check it fits layout; None when there is none."""
    metadata = read_model_metadata(model_path)
    if metadata is not None:
        check_fits(metadata, layout)
    return metadata


def metadata_document(names: list[str], imgsz_hw: tuple[int, int], end2end: bool, head: str,
                      layout: str, version: str, date: str) -> dict[str, Any]:
    """Return the mapping yolov8-seg-export writes (ultralytics' metadata keys, then ours)."""
    return {
        'description': f'{head} split-head segmentation model for the RDK X5 (yolov8-seg-export)',
        'date': date,
        'version': version,  # ultralytics' version that exported it
        'task': 'segment',
        'head': head,
        'stride': 32,
        'imgsz': [int(imgsz_hw[0]), int(imgsz_hw[1])],
        'names': dict(enumerate(names)),
        'end2end': bool(end2end),
        'branch': BRANCHES[0] if end2end else BRANCHES[1],
        'layout': layout,
    }


def write_metadata(path: Path, document: dict[str, Any]) -> Path:
    """Write one metadata mapping as YAML; returns path."""
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                    encoding='utf-8')
    return path
