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
Source image (BGR, RGB, mono, NV12, YUV422) -> model input tensor, recording the transform.

Resizing is bilinear, as ultralytics' LetterBox. Two model input formats: 'nv12' (H*W*3/2
bytes, what a BPU .bin built with input_type_rt nv12 takes) and 'rgb_nchw' (float32
(1, 3, H, W) RGB in 0..1, what the exported ONNX takes).
NV12 sources are resized plane by plane, never through BGR, when the model wants NV12.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from yolov8_seg_ros.image_encodings import ENCODINGS, SOURCE_ENCODINGS
from yolov8_seg_ros.transform import ImageTransform

INPUT_FORMATS = ('nv12', 'rgb_nchw')
_NV12_PAD_UV = 128  # neutral chroma


class ImageFormatError(ValueError):
    """A source image whose encoding, shape or size cannot be converted."""


class PreprocessedFrame(NamedTuple):
    """The model input tensor and the transform from the source image to it."""

    tensor: np.ndarray
    transform: ImageTransform


class ResizedImage(NamedTuple):
    """A source image resized to the model input as BGR (calibration samples), and how."""

    bgr: np.ndarray
    transform: ImageTransform


def nv12_planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split NV12 given as (H*3/2, W) rows into Y (H, W) and UV (H/2, W/2, 2) views."""
    rows, width = image.shape[:2]
    height = rows * 2 // 3
    if image.ndim != 2 or rows % 3 != 0 or height % 2 != 0 or width % 2 != 0:
        raise ImageFormatError(f'nv12 image {width}x{height}: expected (H*3/2, W) rows with '
                               f'even width and height, got array shape {image.shape}')
    return image[:height], image[height:].reshape(height // 2, width // 2, 2)


def bgr_to_nv12(bgr: np.ndarray) -> np.ndarray:
    """Convert BGR (H, W, 3), even H and W, to NV12 (H*3/2, W) uint8 (OpenCV I420 colours)."""
    height, width = bgr.shape[:2]
    if height % 2 or width % 2:
        raise ImageFormatError(f'nv12 image {width}x{height}: width and height must be even')
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    nv12 = np.empty((height * 3 // 2, width), dtype=np.uint8)
    nv12[:height] = i420[:height]
    uv = nv12[height:].reshape(height // 2, width // 2, 2)
    # The U and V planes are (H/2)x(W/2) each, packed back to back (not whole rows when H % 4).
    chroma = i420[height:].reshape(2, height // 2, width // 2)
    uv[..., 0] = chroma[0]
    uv[..., 1] = chroma[1]
    return nv12


def source_size(image: np.ndarray, encoding: str) -> tuple[int, int]:
    """(width, height) of a source image array in the given encoding."""
    if encoding == 'nv12':
        return image.shape[1], image.shape[0] * 2 // 3
    return image.shape[1], image.shape[0]


def to_bgr(image: np.ndarray, encoding: str) -> np.ndarray:
    """Any supported source encoding -> BGR (H, W, 3) uint8."""
    if encoding == 'nv12':
        y, uv = nv12_planes(image)
        return cv2.cvtColorTwoPlane(y, uv, cv2.COLOR_YUV2BGR_NV12)
    if encoding not in ENCODINGS:
        raise ImageFormatError(f'unsupported encoding {encoding!r}: expected one of '
                               f'{SOURCE_ENCODINGS}')
    code = ENCODINGS[encoding].to_bgr
    return image if code is None else cv2.cvtColor(image, code)


class Preprocessor:
    """Resize (letterbox or stretch) and convert source images to one model's input."""

    def __init__(self, input_wh: tuple[int, int], input_format: str,
                 resize_mode: str = 'letterbox', pad_value: int = 127) -> None:
        if input_format not in INPUT_FORMATS:
            raise ValueError(f'input format {input_format!r}: expected one of {INPUT_FORMATS}')
        if input_format == 'nv12' and (input_wh[0] % 2 or input_wh[1] % 2):
            raise ValueError(f'nv12 model input {input_wh[0]}x{input_wh[1]} must be even')
        ImageTransform.create(resize_mode, (1, 1), input_wh)  # validates the mode
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))
        self.input_format = input_format
        self.resize_mode = resize_mode
        self.pad_value = int(pad_value)

    def transform_for(self, source_wh: tuple[int, int],
                      source_encoding: str = 'bgr8') -> ImageTransform:
        """Return the transform this preprocessor applies to a source of the given size."""
        transform = ImageTransform.create(self.resize_mode, source_wh, self.input_wh)
        if self.input_format != 'nv12' and source_encoding != 'nv12':
            return transform
        # Chroma is subsampled 2x2: keep the resized area and its offset on even pixels.
        resized = tuple(max(2, r - r % 2) for r in transform.resized_wh)
        pad = tuple(p - p % 2 for p in transform.pad_xy)
        return ImageTransform(transform.source_wh, transform.input_wh, resized, pad,
                              transform.mode)

    def __call__(self, image: np.ndarray, encoding: str) -> PreprocessedFrame:
        """Convert one source image; raises ImageFormatError for unusable input."""
        if image.dtype != np.uint8:
            raise ImageFormatError(f'{encoding} image: expected uint8 data, got {image.dtype}')
        try:
            return self._convert(image, encoding)
        except cv2.error as error:
            width, height = source_size(image, encoding)
            raise ImageFormatError(f'{encoding} image {width}x{height}: OpenCV cannot convert '
                                   f'it: {error.err}') from error

    def _convert(self, image: np.ndarray, encoding: str) -> PreprocessedFrame:
        transform = self.transform_for(source_size(image, encoding), encoding)
        if self.input_format == 'nv12':
            if encoding == 'nv12':
                return PreprocessedFrame(self._nv12_from_nv12(image, transform), transform)
            canvas = self._letterboxed_bgr(to_bgr(image, encoding), transform)
            return PreprocessedFrame(bgr_to_nv12(canvas).reshape(-1), transform)
        if encoding == 'nv12':
            small = self._nv12_from_nv12(image, transform).reshape(-1, self.input_wh[0])
            y, uv = nv12_planes(small)
            rgb = cv2.cvtColorTwoPlane(y, uv, cv2.COLOR_YUV2RGB_NV12)
            return PreprocessedFrame(_rgb_to_nchw(rgb), transform)
        canvas = self._letterboxed_bgr(to_bgr(image, encoding), transform)
        return PreprocessedFrame(_rgb_to_nchw(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)),
                                 transform)

    def resized_bgr(self, image: np.ndarray, encoding: str) -> ResizedImage:
        """Return the letterboxed/stretched BGR (H, W, 3) uint8 canvas at the input size."""
        transform = self.transform_for(source_size(image, encoding), encoding)
        return ResizedImage(self._letterboxed_bgr(to_bgr(image, encoding), transform), transform)

    def _letterboxed_bgr(self, bgr: np.ndarray, transform: ImageTransform) -> np.ndarray:
        width, height = self.input_wh
        (rw, rh), (px, py) = transform.resized_wh, transform.pad_xy
        canvas = np.full((height, width, 3), self.pad_value, dtype=np.uint8)
        canvas[py:py + rh, px:px + rw] = cv2.resize(bgr, (rw, rh), interpolation=cv2.INTER_LINEAR)
        return canvas

    def _nv12_from_nv12(self, image: np.ndarray, transform: ImageTransform) -> np.ndarray:
        width, height = self.input_wh
        (rw, rh), (px, py) = transform.resized_wh, transform.pad_xy
        y_src, uv_src = nv12_planes(image)
        out = np.empty(width * height * 3 // 2, dtype=np.uint8)
        y_out = out[:width * height].reshape(height, width)
        uv_out = out[width * height:].reshape(height // 2, width // 2, 2)
        if (rw, rh) != self.input_wh:
            y_out.fill(self.pad_value)
            uv_out.fill(_NV12_PAD_UV)
        y_out[py:py + rh, px:px + rw] = cv2.resize(y_src, (rw, rh), interpolation=cv2.INTER_LINEAR)
        uv_out[py // 2:(py + rh) // 2, px // 2:(px + rw) // 2] = cv2.resize(
            uv_src, (rw // 2, rh // 2), interpolation=cv2.INTER_LINEAR)
        return out


def _rgb_to_nchw(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8 -> contiguous float32 (1, 3, H, W) in 0..1."""
    return cv2.dnn.blobFromImage(rgb, scalefactor=1.0 / 255.0)
