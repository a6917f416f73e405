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
make bench: measure the pipeline stages against baselines run on the same inputs, same run.

Writes build/bench/results.json (flat metric -> number) and prints it as a table. Medians of
at least 50 timed runs after warm-up. Run inside the dev environment (source dev/env.sh).
"""

from __future__ import annotations

import argparse
import dataclasses
from functools import partial
import json
from pathlib import Path
import statistics
import sys
import time
from typing import Callable, Optional

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'test'))

from helpers.synthetic_heads import build_heads, Planted, quantize_head  # noqa: E402, I100
from node_bench import bench_node  # noqa: E402
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor  # noqa: E402
from yolov8_seg_ros.depth import Depth3DConfig, DepthImage, Intrinsics, localize  # noqa: E402
from yolov8_seg_ros.preprocess import bgr_to_nv12, Preprocessor  # noqa: E402
from yolov8_seg_ros.render import render_instance_labels  # noqa: E402
from yolov8_seg_ros.smoothing import Track3DSmoother  # noqa: E402
from yolov8_seg_ros.tracking import TrackerConfig  # noqa: E402
from yolov8_seg_ros.transform import ImageTransform  # noqa: E402


def median_ms(function: Callable[[], object], runs: int, warmup: int = 5) -> float:
    """Median wall time of function() in milliseconds."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def interleaved_median_ms(functions: list[Callable[[], object]], runs: int,
                          block: int = 10) -> list[float]:
    """
    Median wall time of each function in milliseconds, timed in alternating blocks of runs.

    For ratios between them: a slow spell of the machine then falls on all of them alike
    instead of on whichever ran during it. Each block starts with an untimed run, so every
    timed run sees the caches its own function left, as in median_ms.
    """
    times: list[list[float]] = [[] for _ in functions]
    while len(times[0]) < runs:
        for function, timed in zip(functions, times):
            function()
            for _ in range(block):
                start = time.perf_counter()
                function()
                timed.append((time.perf_counter() - start) * 1000.0)
    return [statistics.median(timed) for timed in times]


def crafted_outputs(count: int, frame_fraction: tuple[float, float] = (0.0, 0.0),
                    transform: Optional[ImageTransform] = None, seed: int = 0):
    """
    COCO-shaped (640x640, nc 80) heads with count forced detections and smooth, blob-like masks.

    frame_fraction: each box covers a random part of the image content (of transform, default
    1080p letterboxed) in this range; (0, 0) keeps the moderate boxes of 40-200 model pixels.
    Boxes overlap freely but no two share a stride-32 cell, and distinct classes keep
    class-aware NMS from merging them.
    """
    rng = np.random.default_rng(seed)
    transform = transform or ImageTransform.letterbox((1920, 1080), (640, 640))
    (pad_x, pad_y), (content_w, content_h) = transform.pad_xy, transform.resized_wh
    classes = rng.permutation(80)
    objects: list[Planted] = []
    centres: set[tuple[int, int]] = set()
    while len(objects) < count:
        if frame_fraction[1] > 0:
            area = rng.uniform(*frame_fraction) * content_w * content_h
            aspect = rng.uniform(0.6, 1.6)
            w = min(np.sqrt(area * aspect), content_w - 1.0)
            h = min(area / w, content_h - 1.0)
        else:
            w, h = rng.uniform(40, 200, size=2)
        x1 = rng.uniform(pad_x, pad_x + content_w - w)
        y1 = rng.uniform(pad_y, pad_y + content_h - h)
        cell = (int((x1 + w / 2) // 32), int((y1 + h / 2) // 32))
        if cell in centres:
            continue
        centres.add(cell)
        objects.append(Planted(int(classes[len(objects) % 80]), float(rng.uniform(0.3, 0.95)),
                               (x1, y1, x1 + w, y1 + h), stride=32))
    outputs = build_heads((640, 640), 80, objects)
    # Real protos are smooth fields; blobs a few proto pixels across, like a model's.
    coarse = rng.normal(0.0, 1.0, (20, 20, 32)).astype(np.float32)
    outputs[9].data[0] = cv2.resize(coarse, (160, 160), interpolation=cv2.INTER_CUBIC)
    for k in range(3):
        coefs = outputs[k].data
        hot = coefs.any(axis=-1)
        coefs[hot] = rng.normal(0.3, 1.0, (int(hot.sum()), 32)).astype(np.float32)
    # The BPU model's box and mask-coefficient heads are int32 with per-channel scales.
    return [quantize_head(o.data) for o in outputs[:6]] + list(outputs[6:])


# name: (source size, resize mode, detections, part of the frame each box covers)
POSTPROCESS_CASES = {
    '640x480_n10': ((640, 480), 'letterbox', 10, (0.0, 0.0)),
    '1080p_n10': ((1920, 1080), 'letterbox', 10, (0.0, 0.0)),
    '1080p_n50': ((1920, 1080), 'letterbox', 50, (0.0, 0.0)),
    '1080p_n10_large': ((1920, 1080), 'letterbox', 10, (0.17, 0.23)),
    '1080p_n3_huge': ((1920, 1080), 'letterbox', 3, (0.55, 0.65)),
    '1080p_n50_large': ((1920, 1080), 'letterbox', 50, (0.12, 0.18)),
    # Non-integer source pixels per proto pixel: the weight-matrix upsampling.
    '1080p_stretch_n10_large': ((1920, 1080), 'stretch', 10, (0.17, 0.23)),
    '810x1080_n10_large': ((810, 1080), 'letterbox', 10, (0.17, 0.23)),
}


def bench_postprocess(results: dict[str, float], runs: int) -> None:
    config = DecodeConfig()  # the node's defaults (tracking off)
    no_masks = dataclasses.replace(config, with_masks=False)
    for name, (size, mode, count, fraction) in POSTPROCESS_CASES.items():
        transform = ImageTransform.create(mode, size, (640, 640))
        outputs = crafted_outputs(count, fraction, transform)
        decoder = SegPostprocessor.for_outputs(outputs)
        result = decoder(outputs, transform, config)
        assert len(result) == count, (name, len(result))
        if name == '1080p_n10_large':
            with_masks, without = interleaved_median_ms(
                [partial(decoder, outputs, transform, config),
                 partial(decoder, outputs, transform, no_masks)], 2 * runs)
            results[f'postprocess_ms_{name}'] = with_masks
            results[f'postprocess_nomask_ms_{name}'] = without
            results[f'postprocess_mask_vs_nomask_ratio_{name}'] = with_masks / without
        else:
            results[f'postprocess_ms_{name}'] = median_ms(
                lambda d=decoder, o=outputs, t=transform: d(o, t, config), runs)
        if name.endswith('_large') and mode == 'letterbox':
            results[f'render_instance_labels_ms_{name}'] = median_ms(
                lambda r=result: render_instance_labels(r), runs)
    worst = build_heads((640, 640), 80, [], fill_logit=3.0)
    transform = ImageTransform.letterbox((1920, 1080), (640, 640))
    decoder = SegPostprocessor.for_outputs(worst)
    results['postprocess_ms_1080p_worst'] = median_ms(lambda: decoder(worst, transform, config),
                                                      runs)

    from helpers.ultralytics_reference import reference_decode
    outputs = crafted_outputs(10)
    decoder = SegPostprocessor.for_outputs(outputs)
    assert len(reference_decode(outputs, decoder.layout, transform, 0.25, 0.7).scores) == 10
    results['ultralytics_postprocess_ms_1080p_n10'] = median_ms(
        lambda: reference_decode(outputs, decoder.layout, transform, 0.25, 0.7), runs)
    results['postprocess_speedup_vs_ultralytics_1080p_n10'] = (
        results['ultralytics_postprocess_ms_1080p_n10'] / results['postprocess_ms_1080p_n10'])
    result = decoder(outputs, transform, config)
    results['render_instance_labels_ms_1080p_n10'] = median_ms(
        lambda: render_instance_labels(result), runs)
    # Tracking on: the decode keeps every candidate down to track_low_score for the tracker.
    tracking = dataclasses.replace(config, low_score_threshold=TrackerConfig().low_score)
    on, off = interleaved_median_ms([partial(decoder, outputs, transform, tracking),
                                     partial(decoder, outputs, transform, config)], 2 * runs)
    results['postprocess_ms_1080p_n10_tracking_on'] = on
    results['postprocess_ms_1080p_n10_tracking_off'] = off
    results['postprocess_tracking_on_vs_off_ratio_1080p_n10'] = on / off
    bench_postprocess_yolo26(results, runs)
    bench_postprocess_vs_coarse_reference(results, runs)


def yolo26_heads_from(outputs: list) -> list:
    """Return the same detections and masks as YOLO26 heads: DFL box heads -> ltrb distances."""
    converted = list(outputs)
    for k in range(3, 6):  # the seed order's box heads
        data = outputs[k].data.astype(np.float32) * outputs[k].scale
        bins = data.reshape(*data.shape[:-1], 4, 16)
        bins = np.exp(bins - bins.max(axis=-1, keepdims=True))
        distances = (bins @ np.arange(16, dtype=np.float32)) / bins.sum(axis=-1)
        converted[k] = quantize_head(distances.astype(np.float32))
    return converted


def bench_postprocess_yolo26(results: dict[str, float], runs: int) -> None:
    """YOLO26 (ltrb boxes, one2one top-k) against YOLOv8 (DFL, NMS) on the same detections."""
    config = DecodeConfig()
    transform = ImageTransform.letterbox((1920, 1080), (640, 640))
    v8_outputs = crafted_outputs(10, transform=transform)
    y26_outputs = yolo26_heads_from(v8_outputs)
    v8 = SegPostprocessor.for_outputs(v8_outputs)
    y26 = SegPostprocessor.for_outputs(y26_outputs, end2end=True)
    assert y26.layout.reg_max == 1 and not y26.uses_nms(config)
    a, b = v8(v8_outputs, transform, config), y26(y26_outputs, transform, config)
    assert len(a) == len(b) == 10 and np.abs(a.boxes_xyxy - b.boxes_xyxy).max() < 0.05
    # A few milliseconds each and a ratio near 1: many alternating runs.
    v8_ms, y26_ms = interleaved_median_ms([partial(v8, v8_outputs, transform, config),
                                           partial(y26, y26_outputs, transform, config)],
                                          6 * runs)
    results['postprocess_ms_1080p_n10_yolo26'] = y26_ms
    results['postprocess_yolo26_vs_v8_ratio_1080p_n10'] = y26_ms / v8_ms


# The scenarios measured against the model zoo's coarse-mask decode (goal: ratio <= 1.0).
COARSE_REFERENCE_CASES = ('1080p_n10', '1080p_n10_large', '1080p_n50', '1080p_n50_large')


def bench_postprocess_vs_coarse_reference(results: dict[str, float], runs: int) -> None:
    """Exact full-resolution masks against the D-Robotics coarse masks, same tensors and run."""
    from coarse_mask_reference import coarse_decode
    config = DecodeConfig()
    for name in COARSE_REFERENCE_CASES:
        size, mode, count, fraction = POSTPROCESS_CASES[name]
        transform = ImageTransform.create(mode, size, (640, 640))
        outputs = crafted_outputs(count, fraction, transform)
        decoder = SegPostprocessor.for_outputs(outputs)
        assert len(coarse_decode(outputs, decoder.layout, transform).masks) == count, name
        ours, reference = interleaved_median_ms(
            [partial(decoder, outputs, transform, config),
             partial(coarse_decode, outputs, decoder.layout, transform)], 2 * runs)
        results[f'coarse_reference_postprocess_ms_{name}'] = reference
        results[f'postprocess_vs_coarse_reference_ratio_{name}'] = ours / reference


def bench_depth3d(results: dict[str, float], runs: int) -> None:
    """Time the 3D step after decode on a 1080p frame with full-resolution depth, vs decode."""
    transform = ImageTransform.letterbox((1920, 1080), (640, 640))
    rng = np.random.default_rng(2)
    depth_m = (2.0 + np.linspace(0.0, 1.0, 1920, dtype=np.float32)[None, :]
               + rng.normal(0.0, 0.01, (1080, 1920)).astype(np.float32))
    depth = DepthImage(depth_m, 1.0)
    camera = Intrinsics(1400.0, 1400.0, 959.5, 539.5, 1920, 1080)
    config = DecodeConfig()
    for name, fraction in (('1080p_n10', (0.0, 0.0)), ('1080p_n10_large', (0.17, 0.23))):
        outputs = crafted_outputs(10, fraction, transform)
        decoder = SegPostprocessor.for_outputs(outputs)
        result = decoder(outputs, transform, config)
        objects = localize(result, depth, camera, Depth3DConfig())
        assert len(objects) == 10
        # The default (oriented boxes), the axis-aligned boxes and decode, interleaved.
        depth_ms, aligned_ms, decode_ms = interleaved_median_ms(
            [partial(localize, result, depth, camera, Depth3DConfig()),
             partial(localize, result, depth, camera, Depth3DConfig(oriented=False)),
             partial(decoder, outputs, transform, config)], 2 * runs)
        results[f'depth3d_ms_{name}'] = depth_ms
        results[f'depth3d_vs_decode_ratio_{name}'] = depth_ms / decode_ms
        results[f'depth3d_axis_aligned_vs_decode_ratio_{name}'] = aligned_ms / decode_ms
    # Smoothing the ten objects of a frame, each a confirmed track.
    smoother = Track3DSmoother(Depth3DConfig().smoothing_s)
    stamps = iter(range(10 ** 9))
    track_ids = list(range(len(objects)))
    results['depth3d_smoothing_ms_n10'] = median_ms(
        lambda: smoother.update(next(stamps) / 30.0, track_ids, objects), runs)


def bench_preprocess(results: dict[str, float], runs: int) -> None:
    rng = np.random.default_rng(0)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), (5, 5), 0)
    nv12 = bgr_to_nv12(bgr)
    to_nv12 = Preprocessor((640, 640), 'nv12')
    to_rgb = Preprocessor((640, 640), 'rgb_nchw')
    results['preprocess_ms_1080p_nv12_to_640_nv12'] = median_ms(lambda: to_nv12(nv12, 'nv12'),
                                                                runs)
    results['preprocess_ms_1080p_bgr_to_640_rgb'] = median_ms(lambda: to_rgb(bgr, 'bgr8'), runs)
    # Baseline: the round trip through BGR that the plane-wise NV12 resize avoids.
    results['baseline_preprocess_ms_1080p_nv12_via_bgr_to_640_nv12'] = median_ms(
        lambda: to_nv12(cv2.cvtColor(nv12, cv2.COLOR_YUV2BGR_NV12), 'bgr8'), runs)


def bench_inference(results: dict[str, float], runs: int) -> None:
    from helpers.models import coco_shaped_onnx
    from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
    backend = OnnxRuntimeBackend(str(coco_shaped_onnx(640)))
    tensor = np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)
    results['ort_inference_ms_640_coco_n'] = median_ms(lambda: backend.infer(tensor),
                                                       max(10, runs // 5), warmup=2)


def bench_node_stage(results: dict[str, float], runs: int) -> None:
    """Run the node bench, with the postprocess bench's large-object heads saved to replay."""
    from recorded_outputs_node import save_heads
    size, mode, count, fraction = POSTPROCESS_CASES['1080p_n10_large']
    heads = ROOT / 'build' / 'bench' / 'heads_1080p_n10_large.npz'
    heads.parent.mkdir(parents=True, exist_ok=True)
    save_heads(heads, crafted_outputs(count, fraction,
                                      ImageTransform.create(mode, size, (640, 640))))
    bench_node(results, runs, heads)


def bench_idle_cpu_stage(results: dict[str, float], runs: int) -> None:
    """CPU of the node process active, deactivated and lazy under a 30 fps 1080p camera."""
    from idle_cpu import bench_idle_cpu
    bench_idle_cpu(results)


def bench_pipelined_stage(results: dict[str, float], runs: int) -> None:
    """Measure serial against inference_process nodes, the BPU emulated at 10 and 40 ms."""
    from pipelined_node import bench_pipelined
    bench_pipelined(results)


def moving_boxes(count: int, frames: int, seed: int = 0) -> list[np.ndarray]:
    """Boxes (20-120 px) crossing a 1080p frame at up to 8 px per frame, with jitter."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([0, 0], [1920, 1080], size=(count, 2))
    velocity = rng.uniform(-8, 8, size=(count, 2))
    sizes = rng.uniform(20, 120, size=(count, 2))
    sequence = []
    for k in range(frames):
        c = (centres + velocity * k) % [1920, 1080] + rng.normal(0, 1.0, (count, 2))
        sequence.append(np.concatenate([c - sizes / 2, c + sizes / 2], axis=1))
    return sequence


def tracker_steps(count: int, frames: int) -> Callable[[], None]:
    """Return a function that feeds the next frame of count moving boxes to one tracker."""
    from yolov8_seg_ros.tracking import ByteTracker
    boxes = moving_boxes(count, frames)
    scores = np.random.default_rng(1).uniform(0.3, 0.95, count)
    tracker = ByteTracker()
    frame = iter(range(frames))

    def update() -> None:
        k = next(frame)
        tracker.update(boxes[k], scores, k / 30.0)
    return update


def bench_tracking(results: dict[str, float], runs: int) -> None:
    """Tracker update per frame (steady state: every object tracked) for 10 and 100 objects."""
    for count in (10, 100):
        update = tracker_steps(count, runs + 40)
        for _ in range(30):  # every track confirmed before timing
            update()
        results[f'tracking_ms_n{count}'] = median_ms(update, runs)
    if 'postprocess_ms_1080p_n10' in results:
        results['tracking_vs_postprocess_ratio_n10'] = (
            results['tracking_ms_n10'] / results['postprocess_ms_1080p_n10'])


STAGES = {'postprocess': bench_postprocess, 'preprocess': bench_preprocess,
          'inference': bench_inference, 'tracking': bench_tracking, 'depth3d': bench_depth3d,
          'node': bench_node_stage, 'idle_cpu': bench_idle_cpu_stage,
          'pipelined': bench_pipelined_stage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--runs', type=int, default=50)
    parser.add_argument('--only', choices=sorted(STAGES), action='append')
    parser.add_argument('--out', type=Path, default=ROOT / 'build' / 'bench' / 'results.json')
    args = parser.parse_args()
    results: dict[str, float] = {}
    if args.out.exists():
        results.update(json.loads(args.out.read_text()))
    for name in args.only or list(STAGES):
        STAGES[name](results, max(50, args.runs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
    width = max(len(k) for k in results)
    for key in sorted(results):
        print(f'{key:<{width}}  {results[key]:10.3f}')
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
