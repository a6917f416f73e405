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
yolov8-seg-calib IMAGES_DIR OUT_DIR: calibration samples for hb_mapper (RDK X5 PTQ).

One .rgbchw file per image: raw float32 bytes of a (1, 3, H, W) RGB tensor with values 0..255,
made with the same letterbox as the node's runtime preprocess (the toolchain applies the 1/255
scale itself). RGB, not BGR: the model zoo's own generator gets this wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Optional, Sequence

import cv2
import numpy as np

from yolov8_seg_ros.export import parse_imgsz
from yolov8_seg_ros.preprocess import Preprocessor
from yolov8_seg_ros.transform import RESIZE_MODES

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


def calibration_sample(bgr: np.ndarray, input_wh: tuple[int, int],
                       resize_mode: str = 'letterbox') -> np.ndarray:
    """BGR image -> float32 (1, 3, H, W) RGB 0..255, resized exactly as at runtime."""
    canvas = Preprocessor(input_wh, 'rgb_nchw', resize_mode).resized_bgr(bgr, 'bgr8').bgr
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None].astype(np.float32))


def write_samples(images_dir: Path, out_dir: Path, input_wh: tuple[int, int],
                  resize_mode: str = 'letterbox', limit: int = 0) -> list[Path]:
    """Write one .rgbchw per readable image in images_dir; returns the written paths."""
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit:
        images = images[:limit]
    if not images:
        raise FileNotFoundError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {images_dir}')
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in images:
        bgr = cv2.imread(str(path))
        if bgr is None:
            print(f'yolov8-seg-calib: skipping unreadable {path}', file=sys.stderr)
            continue
        target = out_dir / f'{path.stem}.rgbchw'
        calibration_sample(bgr, input_wh, resize_mode).tofile(target)
        written.append(target)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of yolov8-seg-calib."""
    parser = argparse.ArgumentParser(prog='yolov8-seg-calib', description=__doc__)
    parser.add_argument('images_dir', type=Path)
    parser.add_argument('out_dir', type=Path)
    parser.add_argument('--imgsz', type=parse_imgsz, default=(640, 640),
                        help='model input size: N or HxW (default 640)')
    parser.add_argument('--resize-mode', choices=RESIZE_MODES, default='letterbox')
    parser.add_argument('--max-images', type=int, default=0, help='0 = all')
    args = parser.parse_args(argv)
    try:
        written = write_samples(args.images_dir, args.out_dir, (args.imgsz[1], args.imgsz[0]),
                                args.resize_mode, args.max_images)
    except OSError as error:
        print(f'yolov8-seg-calib: {error}', file=sys.stderr)
        return 1
    print(f'wrote {len(written)} samples ({args.imgsz[0]}x{args.imgsz[1]} RGB float32) '
          f'to {args.out_dir}')
    return 0 if written else 1


if __name__ == '__main__':
    sys.exit(main())
