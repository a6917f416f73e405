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

"""Preprocess conversions against OpenCV's own, NV12 plane-wise resize, strides, errors."""

import cv2
import numpy as np
import pytest
from yolov8_seg_ros.preprocess import (bgr_to_nv12, ImageFormatError, nv12_planes,
                                       Preprocessor, to_bgr)
from yolov8_seg_ros.transform import ImageTransform


@pytest.fixture(scope='module')
def photo():
    from helpers.models import ultralytics_asset
    return cv2.resize(ultralytics_asset('bus.jpg'), (640, 480))


def test_nv12_bgr_nv12_round_trip_within_two_levels(photo):
    nv12 = bgr_to_nv12(photo)
    assert nv12.shape == (720, 640) and nv12.dtype == np.uint8
    i420 = cv2.cvtColor(photo, cv2.COLOR_BGR2YUV_I420)
    np.testing.assert_array_equal(nv12[:480], i420[:480])
    np.testing.assert_array_equal(nv12[480:, 0::2].reshape(-1), i420[480:600].reshape(-1))
    np.testing.assert_array_equal(nv12[480:, 1::2].reshape(-1), i420[600:].reshape(-1))
    back = cv2.cvtColor(nv12, cv2.COLOR_YUV2BGR_NV12)
    np.testing.assert_array_equal(to_bgr(nv12, 'nv12'), back)
    diff = np.abs(bgr_to_nv12(back).astype(int) - nv12.astype(int))
    assert diff[480:].max() <= 2  # chroma
    # Luma: within 2 levels except where averaged 4:2:0 chroma leaves the RGB gamut and the
    # BGR step clips (saturated edges): measured 0.05 % of the pixels of this photo.
    assert (diff[:480] <= 2).mean() >= 0.999


@pytest.mark.parametrize('encoding,make', [
    ('rgb8', lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2RGB)),
    ('mono8', lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)),
    ('bgra8', lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2BGRA)),
    ('rgba8', lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2RGBA)),
])
def test_colour_encodings_match_opencv(photo, encoding, make):
    expected = photo if encoding != 'mono8' else cv2.cvtColor(make(photo), cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(to_bgr(make(photo), encoding), expected)


@pytest.mark.parametrize('encoding,code', [('yuv422_yuy2', cv2.COLOR_YUV2BGR_YUYV),
                                           ('yuyv', cv2.COLOR_YUV2BGR_YUYV),
                                           ('yuv422', cv2.COLOR_YUV2BGR_UYVY),
                                           ('uyvy', cv2.COLOR_YUV2BGR_UYVY)])
def test_yuv422_encodings_match_opencv(photo, encoding, code):
    packed = np.random.default_rng(0).integers(0, 256, (480, 640, 2), dtype=np.uint8)
    np.testing.assert_array_equal(to_bgr(packed, encoding), cv2.cvtColor(packed, code))


def test_rgb_nchw_letterbox_tensor(photo):
    frame = Preprocessor((640, 640), 'rgb_nchw')(photo, 'bgr8')
    assert frame.tensor.shape == (1, 3, 640, 640) and frame.tensor.dtype == np.float32
    assert frame.transform == ImageTransform.letterbox((640, 480), (640, 640))
    np.testing.assert_allclose(frame.tensor[0, :, :80], 127 / 255, atol=1e-6)
    np.testing.assert_allclose(frame.tensor[0, :, 80:560].transpose(1, 2, 0),
                               cv2.cvtColor(photo, cv2.COLOR_BGR2RGB) / 255, atol=1e-6)


def test_stretch_mode(photo):
    frame = Preprocessor((320, 320), 'rgb_nchw', 'stretch')(photo, 'bgr8')
    expected = cv2.cvtColor(cv2.resize(photo, (320, 320)), cv2.COLOR_BGR2RGB) / 255
    np.testing.assert_allclose(frame.tensor[0].transpose(1, 2, 0), expected, atol=1e-6)
    assert frame.transform.pad_xy == (0, 0) and frame.transform.resized_wh == (320, 320)


def test_nv12_to_nv12_resizes_planes_without_bgr(photo):
    big = cv2.resize(photo, (1920, 1080))
    nv12 = bgr_to_nv12(big)
    frame = Preprocessor((640, 640), 'nv12')(nv12, 'nv12')
    assert frame.tensor.shape == (640 * 640 * 3 // 2,) and frame.tensor.flags.c_contiguous
    assert frame.transform.resized_wh == (640, 360) and frame.transform.pad_xy == (0, 140)
    y, uv = nv12_planes(frame.tensor.reshape(960, 640))
    np.testing.assert_array_equal(y[:140], 127)
    np.testing.assert_array_equal(uv[:70], 128)
    np.testing.assert_array_equal(y[140:500], cv2.resize(nv12[:1080], (640, 360)))
    via_bgr = Preprocessor((640, 640), 'nv12')(big, 'bgr8').tensor
    diff = np.abs(via_bgr.astype(int) - frame.tensor.astype(int))
    assert np.median(diff) <= 1 and diff.mean() < 2


def test_nv12_to_rgb_tensor_matches_bgr_route(photo):
    nv12 = bgr_to_nv12(photo)
    a = Preprocessor((320, 320), 'rgb_nchw')(nv12, 'nv12').tensor
    b = Preprocessor((320, 320), 'rgb_nchw')(to_bgr(nv12, 'nv12'), 'bgr8').tensor
    assert np.abs(a - b)[:, :, 40:280].mean() < 3 / 255


def test_row_stride_larger_than_width_is_handled(photo):
    nv12 = bgr_to_nv12(photo)
    padded = np.zeros((720, 704), np.uint8)
    padded[:, :640] = nv12
    strided = padded[:, :640]
    assert not strided.flags.c_contiguous
    pre = Preprocessor((640, 640), 'nv12')
    np.testing.assert_array_equal(pre(strided, 'nv12').tensor, pre(nv12, 'nv12').tensor)
    bgr_padded = np.zeros((480, 700, 3), np.uint8)
    bgr_padded[:, :640] = photo
    rgb = Preprocessor((640, 640), 'rgb_nchw')
    np.testing.assert_array_equal(rgb(bgr_padded[:, :640], 'bgr8').tensor,
                                  rgb(photo, 'bgr8').tensor)


@pytest.mark.parametrize('shape', [(721, 640), (720, 641), (480, 640, 3)])
def test_odd_or_malformed_nv12_is_rejected(shape):
    with pytest.raises(ImageFormatError, match='nv12'):
        Preprocessor((640, 640), 'nv12')(np.zeros(shape, np.uint8), 'nv12')


def test_odd_size_bgr_to_nv12_model_is_letterboxed_to_even():
    frame = Preprocessor((640, 640), 'nv12')(np.zeros((479, 641, 3), np.uint8), 'bgr8')
    assert all(v % 2 == 0 for v in frame.transform.resized_wh + frame.transform.pad_xy)
    assert frame.tensor.size == 640 * 640 * 3 // 2


def test_unknown_encoding_and_dtype_are_rejected():
    with pytest.raises(ImageFormatError, match='unsupported encoding'):
        Preprocessor((320, 320), 'rgb_nchw')(np.zeros((10, 10, 3), np.uint8), 'bayer_rggb8')
    with pytest.raises(ImageFormatError, match='uint8'):
        Preprocessor((320, 320), 'rgb_nchw')(np.zeros((10, 10, 3), np.uint16), 'bgr8')


@pytest.mark.parametrize('height', [6, 8, 270])
def test_bgr_to_nv12_matches_opencv_i420_when_height_is_not_a_multiple_of_4(height):
    bgr = np.random.default_rng(height).integers(0, 255, (height, 10, 3), dtype=np.uint8)
    nv12 = bgr_to_nv12(bgr)
    y, uv = nv12_planes(nv12)
    from_nv12 = cv2.cvtColorTwoPlane(y, uv, cv2.COLOR_YUV2BGR_NV12)
    from_i420 = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)
    np.testing.assert_array_equal(from_nv12, from_i420)
