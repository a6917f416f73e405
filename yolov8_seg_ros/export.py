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
yolov8-seg-export: ultralytics YOLOv8-seg / YOLO11-seg (.pt or yaml) -> split-head ONNX for the X5.

Writes the ONNX with the 10 NHWC heads of the RDK X5 model zoo (opset 11, simplified), verifies
it with ONNX Runtime against ultralytics' own, unpatched model (every head tensor, whatever the
thresholds, then the decoded detections), and writes the hb_mapper PTQ YAML and the toolchain
commands next to it, for one of two .bin output layouts:
- int32 (the seed's): heads grouped by role (mask coefficients x3, boxes x3, classes x3, protos);
  hb_model_modifier removes the Dequantize nodes of the box and mask-coefficient heads, so the
  .bin returns them as int32 with per-channel scales;
- float32 (current model-zoo bins): [class, box, mask coefficients] per level, then protos, all
  float32 (no hb_model_modifier step).
torch and ultralytics are imported here only: the node never imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from pathlib import Path
import shlex
import shutil
import sys
import tempfile
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from yolov8_seg_ros.decode import DecodeConfig, SegmentationResult
from yolov8_seg_ros.layout import HeadLayout

PTQ_SCALE_VALUE = 0.003921568627451  # 1/255, applied by the toolchain (norm_type data_scale)
LAYOUTS = ('int32', 'float32')  # the .bin's output layout (see the module docstring)
_PASS_THROUGH_OPS = ('Transpose', 'Reshape', 'Identity')
# Largest difference between an exported head and ultralytics' own, relative to the head's
# largest magnitude (float32 ONNX Runtime against PyTorch: about 1e-6 here).
HEAD_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ExportReport:
    """What one export produced, for the command line and the tests."""

    onnx_path: Path
    ptq_yaml_path: Path
    modifier_script_path: Path  # the toolchain commands, in order
    dequantize_nodes: tuple[str, ...]  # removed by hb_model_modifier (int32 layout only)
    input_hw: tuple[int, int]
    num_classes: int
    verified_heads: int  # head tensors equal to ultralytics' own (all 10)
    max_head_error: float  # largest relative difference among them
    verified_detections: int


def parse_imgsz(text: str) -> tuple[int, int]:
    """'640' -> (640, 640); '384x640' -> (384, 640) as height x width; multiples of 32."""
    parts = [int(p) for p in text.lower().split('x')]
    hw = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    if len(parts) > 2 or min(hw) < 32 or hw[0] % 32 or hw[1] % 32:
        raise argparse.ArgumentTypeError(f'image size {text!r}: expected N or HxW, '
                                         'multiples of 32')
    return hw


@contextlib.contextmanager
def split_head_forward(head_class: type, layout: str = 'int32') -> Iterator[None]:
    """Patch the Segment head's forward to return the split NHWC heads; always restored."""
    original = head_class.forward

    def forward(self: Any, x: list[Any]) -> tuple[Any, ...]:
        def nhwc(t: Any) -> Any:
            return t.permute(0, 2, 3, 1).contiguous()
        protos = nhwc(self.proto(x[0]))
        mask_coefs = [nhwc(self.cv4[i](x[i])) for i in range(self.nl)]
        boxes = [nhwc(self.cv2[i](x[i])) for i in range(self.nl)]
        classes = [nhwc(self.cv3[i](x[i])) for i in range(self.nl)]
        if layout == 'float32':
            per_level = [t for i in range(self.nl) for t in (classes[i], boxes[i], mask_coefs[i])]
            return (*per_level, protos)
        return (mask_coefs, boxes, classes, protos)

    head_class.forward = forward
    try:
        yield
    finally:
        head_class.forward = original


def load_model(source: str, num_classes: Optional[int] = None, seed: int = 0) -> Any:
    """Load an ultralytics YOLOv8/YOLO11 segmentation model (.pt), or build one from a .yaml."""
    import torch
    from ultralytics import YOLO

    torch.manual_seed(seed)
    if source.endswith(('.yaml', '.yml')):
        if num_classes is None:
            # A file, or the name of one ultralytics ships (yolov8n-seg.yaml): nothing written.
            return YOLO(source, task='segment')
        from ultralytics.nn.tasks import yaml_model_load
        import yaml
        cfg = yaml_model_load(source)
        cfg['nc'] = int(num_classes)
        cfg.pop('yaml_file', None)
        scale = cfg.pop('scale', '')
        tmp = Path(tempfile.mkdtemp()) / Path(source).name
        if scale and scale in cfg.get('scales', {}):
            cfg['scales'] = {scale: cfg['scales'][scale]}
        tmp.write_text(yaml.safe_dump(cfg))
        return YOLO(str(tmp), task='segment')
    if num_classes is not None:
        raise ValueError('--nc applies to a model .yaml only; a .pt already has its classes')
    # ultralytics writes its ONNX next to the checkpoint: from a copy, so that a file of that
    # name beside the user's checkpoint is never overwritten (or moved to --output).
    copy = Path(tempfile.mkdtemp()) / Path(source).name
    shutil.copyfile(source, copy)
    return YOLO(str(copy), task='segment')


def export_split_onnx(model: Any, imgsz_hw: tuple[int, int], output: Path,
                      opset: int = 11, simplify: bool = True, layout: str = 'int32') -> Path:
    """Export with the split-head forward in the layout's output order; returns the ONNX path."""
    from ultralytics.nn.modules.head import Segment

    head = model.model.model[-1]
    if not isinstance(head, Segment):
        raise ValueError('expected a YOLOv8-seg or YOLO11-seg model, got head '
                         f'{type(head).__name__}')
    if layout not in LAYOUTS:
        raise ValueError(f'layout {layout!r}: expected one of {LAYOUTS}')
    output.parent.mkdir(parents=True, exist_ok=True)
    with split_head_forward(type(head), layout):
        exported = model.export(format='onnx', imgsz=list(imgsz_hw), opset=opset,
                                simplify=simplify, dynamic=False, half=False, verbose=False)
    Path(exported).replace(output)
    return output


def dequantize_node_names(onnx_path: Path, layout: HeadLayout) -> tuple[str, ...]:
    """Names of the Dequantize nodes hb_mapper adds after the box and mask-coefficient convs."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    outputs = [o.name for o in graph.output]
    heads = [lv.mask_coef for lv in layout.levels] + [lv.box for lv in layout.levels]
    names = []
    for index in heads:
        tensor = outputs[index]
        node = producer[tensor]
        while node.op_type in _PASS_THROUGH_OPS:
            tensor = node.input[0]
            node = producer[tensor]
        if node.op_type != 'Conv':
            raise ValueError(f'output {outputs[index]!r} is not produced by a Conv '
                             f'(found {node.op_type} {node.name!r})')
        names.append(f'{tensor}_HzDequantize')
    return tuple(names)


def model_prefix(onnx_path: Path, input_hw: tuple[int, int]) -> str:
    """Model-zoo style name, e.g. yolov8n_instance_seg_bayese_640x640_nv12."""
    stem = onnx_path.stem.replace('-seg', '').replace('-', '_')
    return f'{stem}_instance_seg_bayese_{input_hw[1]}x{input_hw[0]}_nv12'


def ptq_yaml_text(onnx_path: Path, input_hw: tuple[int, int], cal_dir: str) -> str:
    """hb_mapper makertbin config for bayes-e with NV12 runtime input (model zoo settings)."""
    prefix = model_prefix(onnx_path, input_hw)
    return (
        '# hb_mapper makertbin --model-type onnx --config THIS_FILE (RDK X5, bayes-e)\n'
        'model_parameters:\n'
        f"  onnx_model: '{onnx_path.name}'\n"
        "  march: 'bayes-e'\n"
        '  layer_out_dump: False\n'
        f"  working_dir: '{prefix}'\n"
        f"  output_model_file_prefix: '{prefix}'\n"
        'input_parameters:\n'
        "  input_name: ''\n"
        "  input_type_rt: 'nv12'\n"
        "  input_type_train: 'rgb'\n"
        "  input_layout_train: 'NCHW'\n"
        "  norm_type: 'data_scale'\n"
        f'  scale_value: {PTQ_SCALE_VALUE}\n'
        'calibration_parameters:\n'
        f"  cal_data_dir: '{cal_dir}'\n"
        "  cal_data_type: 'float32'\n"
        'compiler_parameters:\n'
        "  compile_mode: 'latency'\n"
        '  debug: False\n'
        "  optimize_level: 'O3'\n"
    )


def modifier_script_text(onnx_path: Path, input_hw: tuple[int, int], yaml_name: str,
                         nodes: Sequence[str], cal_dir: str) -> str:
    """
    Return the toolchain commands, in order.

    With Dequantize node names (int32 layout) hb_model_modifier removes them; without (float32
    layout) the compiled .bin is the result.
    """
    prefix = model_prefix(onnx_path, input_hw)
    compile_steps = (
        '#!/usr/bin/env bash\n'
        '# Run inside the RDK X5 OpenExplorer docker image, in this folder.\n'
        'set -euo pipefail\n'
        f'# 1. Calibration samples (on a machine with this package): yolov8-seg-calib '
        f'IMAGES_DIR {cal_dir} --imgsz {input_hw[0]}x{input_hw[1]}\n'
        f'hb_mapper checker --model-type onnx --march bayes-e --model {onnx_path.name}\n'
        f'hb_mapper makertbin --model-type onnx --config {yaml_name}\n'
    )
    if not nodes:
        return (compile_steps
                + '# All ten outputs stay float32, in the model-zoo order (float32 layout).\n'
                f'# Result: {prefix}/{prefix}.bin -> model_path of the yolov8_seg node.\n')
    removes = ' \\\n'.join(f'  -r {shlex.quote(n)}' for n in nodes)
    return (
        compile_steps
        + f'cd {prefix}\n'
        '# Remove the Dequantize nodes of the 3 mask-coefficient and 3 box heads, so they\n'
        '# come out as int32 with per-channel scales (dequantized on the CPU only where needed).\n'
        f'hb_model_modifier {prefix}.bin \\\n{removes}\n'
        f'# Result: {prefix}_modified.bin -> model_path of the yolov8_seg node.\n'
    )


@dataclass(frozen=True)
class Verification:
    """What verify_export compared, all of it equal to ultralytics within tolerance."""

    layout: HeadLayout
    heads: int
    max_head_error: float
    detections: int


def verify_export(onnx_path: Path, model: Any, sample_bgr: np.ndarray,
                  config: DecodeConfig) -> Verification:
    """
    Check the ONNX with ONNX Runtime against ultralytics' own model on one letterboxed image.

    Every head tensor must equal the unpatched model's head outputs (boxes, classes, mask
    coefficients per level, protos), independent of thresholds, then the decoded detections
    its prediction. Raises RuntimeError on any difference, and when nothing was compared.
    """
    from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
    from yolov8_seg_ros.decode import SegPostprocessor
    from yolov8_seg_ros.layout import as_raw_output
    from yolov8_seg_ros.preprocess import Preprocessor

    backend = OnnxRuntimeBackend(str(onnx_path))
    # Same letterbox (and pad value) as ultralytics' predictor, so both see one input tensor.
    preprocess = Preprocessor(backend.input_wh, backend.input_format, 'letterbox', pad_value=114)
    frame = preprocess(sample_bgr, 'bgr8')
    outputs = backend.infer(frame.tensor)
    postprocessor = SegPostprocessor.for_outputs(outputs)
    layout = postprocessor.layout
    exported = [as_raw_output(o).data for o in outputs]
    heads, error = compare_heads(exported, layout, reference_heads(model, frame.tensor))
    ours = postprocessor(outputs, frame.transform, config)
    imgsz = [backend.input_wh[1], backend.input_wh[0]]
    reference = model.predict(sample_bgr, imgsz=imgsz, conf=config.conf_threshold,
                              iou=config.iou_threshold, max_det=config.max_det, rect=False,
                              verbose=False)[0]
    _compare_to_ultralytics(ours, reference)
    return Verification(layout, heads, error, len(ours))


def reference_heads(model: Any, tensor: np.ndarray) -> dict[str, np.ndarray]:
    """
    Run ultralytics' own (unpatched) segmentation model on an NCHW input tensor.

    Returns its raw heads: 'boxes' (64, A), 'scores' (nc, A) and 'mask_coefficient' (32, A),
    anchors by level then row-major cell, and 'proto' (32, H, W).
    """
    import torch

    network = model.model
    network.eval()
    with torch.no_grad():
        (_, proto), raw = network(torch.from_numpy(np.ascontiguousarray(tensor)))
    heads = {name: raw[name][0].float().numpy()
             for name in ('boxes', 'scores', 'mask_coefficient')}
    heads['proto'] = proto[0].float().numpy()
    return heads


def compare_heads(exported: Sequence[np.ndarray], layout: HeadLayout,
                  reference: dict[str, np.ndarray]) -> tuple[int, float]:
    """
    Compare the 10 exported NHWC heads with ultralytics' (reference_heads); returns (count, err).

    err is the largest absolute difference relative to each head's largest magnitude; raises
    RuntimeError naming the first head beyond HEAD_TOLERANCE, or when nothing was compared.
    """
    pairs = []
    offset = 0
    for level in layout.levels:
        cells = level.grid_hw[0] * level.grid_hw[1]
        for role, index in (('boxes', level.box), ('scores', level.cls),
                            ('mask_coefficient', level.mask_coef)):
            expected = reference[role][:, offset:offset + cells].T.reshape(
                *level.grid_hw, -1)
            pairs.append((f'{role} of stride {level.stride} (output {index})',
                          exported[index], expected))
        offset += cells
    pairs.append((f'protos (output {layout.protos})', exported[layout.protos],
                  reference['proto'].transpose(1, 2, 0)))
    worst = 0.0
    for name, ours, expected in pairs:
        ours = np.asarray(ours, np.float64)[0]
        if ours.shape != expected.shape or expected.size == 0:
            raise RuntimeError(f'verification failed: {name} has shape {ours.shape}, '
                               f"ultralytics' {expected.shape}")
        error = float(np.abs(ours - expected).max() / max(np.abs(expected).max(), 1e-6))
        if not error <= HEAD_TOLERANCE:
            raise RuntimeError(f"verification failed: {name} differs from ultralytics' own "
                               f'head by {error:.3g} of its range (tolerance {HEAD_TOLERANCE})')
        worst = max(worst, error)
    if len(pairs) != 10:
        raise RuntimeError(f'verification failed: compared {len(pairs)} heads, expected 10')
    return len(pairs), worst


def _compare_to_ultralytics(ours: SegmentationResult, reference: Any) -> None:
    ref_boxes = reference.boxes.xyxy.cpu().numpy()
    ref_classes = reference.boxes.cls.cpu().numpy().astype(int)
    if len(ours) != len(ref_boxes):
        raise RuntimeError(f'verification failed: {len(ours)} detections from the ONNX, '
                           f'{len(ref_boxes)} from ultralytics')
    import torch
    from ultralytics.utils.metrics import box_iou
    all_ious = box_iou(torch.from_numpy(ours.boxes_xyxy).float(),
                       torch.from_numpy(ref_boxes).float()).numpy()
    for box, cls, ious in zip(ours.boxes_xyxy, ours.class_ids, all_ious):
        best = int(ious.argmax()) if ious.size else -1
        if best < 0 or ious[best] < 0.95 or ref_classes[best] != cls:
            raise RuntimeError(f'verification failed: detection {box.tolist()} class {cls} has '
                               'no ultralytics match (IoU >= 0.95, same class)')


def run_export(source: str, imgsz_hw: tuple[int, int], output: Optional[Path] = None,
               num_classes: Optional[int] = None, sample_image: Optional[Path] = None,
               opset: int = 11, simplify: bool = True, cal_dir: Optional[str] = None,
               seed: int = 0, layout: str = 'int32') -> ExportReport:
    """Export, verify and write the toolchain files (see the module docstring)."""
    import cv2

    model = load_model(source, num_classes, seed)
    if output is None:
        output = Path(source).with_suffix('.onnx').resolve()
    onnx_path = export_split_onnx(model, imgsz_hw, output, opset, simplify, layout)
    if sample_image is None:
        from ultralytics.utils import ASSETS
        sample_image = Path(ASSETS) / 'bus.jpg'
    sample = cv2.imread(str(sample_image))
    if sample is None:
        raise FileNotFoundError(f'cannot read the verification image {sample_image}')
    verification = verify_export(onnx_path, model, sample, DecodeConfig())
    head_layout = verification.layout
    if head_layout.input_hw != tuple(imgsz_hw):
        raise RuntimeError(f'exported input {head_layout.input_hw} != requested {imgsz_hw}')
    nodes = dequantize_node_names(onnx_path, head_layout) if layout == 'int32' else ()
    cal_dir = cal_dir or f'calibration_data_rgb_f32_{imgsz_hw[1]}x{imgsz_hw[0]}'
    yaml_path = onnx_path.with_name(f'{model_prefix(onnx_path, imgsz_hw)}.yaml')
    yaml_path.write_text(ptq_yaml_text(onnx_path, imgsz_hw, cal_dir))
    script_path = onnx_path.with_name(f'{onnx_path.stem}_toolchain.sh')
    script_path.write_text(modifier_script_text(onnx_path, imgsz_hw, yaml_path.name, nodes,
                                                cal_dir))
    script_path.chmod(0o755)
    return ExportReport(onnx_path, yaml_path, script_path, nodes, head_layout.input_hw,
                        head_layout.num_classes, verification.heads,
                        verification.max_head_error, verification.detections)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of yolov8-seg-export."""
    parser = argparse.ArgumentParser(prog='yolov8-seg-export', description=__doc__)
    parser.add_argument('model', help='ultralytics YOLOv8-seg or YOLO11-seg checkpoint (.pt) '
                        'or model yaml (e.g. yolov8n-seg.yaml, yolo11n-seg.yaml)')
    parser.add_argument('--imgsz', type=parse_imgsz, default=(640, 640),
                        help='model input size: N or HxW (default 640)')
    parser.add_argument('--output', type=Path, help='ONNX path (default: next to the model)')
    parser.add_argument('--nc', type=int, help='number of classes (model yaml only)')
    parser.add_argument('--sample-image', type=Path,
                        help='image for the verification (default: ultralytics bus.jpg)')
    parser.add_argument('--opset', type=int, default=11)
    parser.add_argument('--no-simplify', action='store_true')
    parser.add_argument('--cal-dir', help='calibration folder named in the PTQ YAML')
    parser.add_argument('--seed', type=int, default=0, help='weights seed for a model yaml')
    parser.add_argument('--layout', choices=LAYOUTS, default='int32',
                        help='output layout of the .bin: int32 (the modified seed model: int32 '
                        'box and mask-coefficient heads) or float32 (current model zoo: all '
                        'float32, [class, box, mask coefficients] per level); default int32')
    args = parser.parse_args(argv)
    try:
        report = run_export(args.model, args.imgsz, args.output, args.nc, args.sample_image,
                            args.opset, not args.no_simplify, args.cal_dir, args.seed,
                            args.layout)
    except (OSError, ValueError, RuntimeError) as error:
        print(f'yolov8-seg-export: {error}', file=sys.stderr)
        return 1
    print(f'ONNX:       {report.onnx_path} (input {report.input_hw[0]}x{report.input_hw[1]}, '
          f'{report.num_classes} classes)')
    print(f"verified:   {report.verified_heads} heads equal ultralytics' own (largest "
          f"difference {report.max_head_error:.1e} of a head's range); "
          f'{report.verified_detections} detections match ultralytics')
    print(f'PTQ YAML:   {report.ptq_yaml_path}')
    print(f'Toolchain:  {report.modifier_script_path}')
    for name in report.dequantize_nodes:
        print(f'  remove:   {name}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
