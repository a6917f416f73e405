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
yolov8-seg-export: ultralytics YOLOv8/YOLO11/YOLOv9/YOLO26-seg (.pt or yaml) -> split-head ONNX.

Writes the ONNX with the 10 NHWC heads of the RDK X5 model zoo (opset 11, simplified), verifies
it with ONNX Runtime against ultralytics' own, unpatched model (every head tensor, whatever the
thresholds, then the decoded detections), and writes the hb_mapper PTQ YAML, the toolchain
commands and the model's metadata file (MODEL.metadata.yaml: head branch, class names, input
size) next to it, for one of two .bin output layouts:
- int32 (the seed's): heads grouped by role (mask coefficients x3, boxes x3, classes x3, protos);
  hb_model_modifier removes the Dequantize nodes of the box and mask-coefficient heads, so the
  .bin returns them as int32 with per-channel scales;
- float32 (current model-zoo bins): [class, box, mask coefficients] per level, then protos, all
  float32 (no hb_model_modifier step).
A YOLO26 head (Segment26: 4-channel ltrb boxes, Proto26) has two branches of the same shapes:
one2one, trained to be used end to end (top-k, no NMS), exported by default; and one2many
(NMS), with --branch one2many. ultralytics 8.4.190's default export (nms unset) keeps only the
one2many branch: its fuse() drops the one2one convolutions.
torch and ultralytics are imported here only: the node never imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
import shlex
import shutil
import sys
import tempfile
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from yolov8_seg_ros.decode import DecodeConfig, SegmentationResult
from yolov8_seg_ros.layout import HeadLayout
from yolov8_seg_ros.model_metadata import metadata_document, SUFFIX as METADATA_SUFFIX, \
    write_metadata

PTQ_SCALE_VALUE = 0.003921568627451  # 1/255, applied by the toolchain (norm_type data_scale)
LAYOUTS = ('int32', 'float32')  # the .bin's output layout (see the module docstring)
BRANCHES = ('one2one', 'one2many')  # a YOLO26 head's branches (see the module docstring)
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
    metadata_path: Path  # MODEL.metadata.yaml beside the ONNX (the toolchain copies it on)
    branch: str  # 'one2one' (decoded by top-k) or 'one2many' (NMS); see BRANCHES
    head: str  # ultralytics' head class, e.g. Segment or Segment26
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
def split_head_forward(head_class: type, layout: str = 'int32',
                       branch: str = 'one2many') -> Iterator[None]:
    """Patch the Segment head's forward to return the split NHWC heads; always restored."""
    original = head_class.forward
    prefix = 'one2one_' if branch == 'one2one' else ''

    def forward(self: Any, x: list[Any]) -> tuple[Any, ...]:
        def nhwc(t: Any) -> Any:
            return t.permute(0, 2, 3, 1).contiguous()
        box_head, cls_head, mask_head = (getattr(self, prefix + name)
                                         for name in ('cv2', 'cv3', 'cv4'))
        # Proto26 (YOLO26) refines P3 with P4 and P5: it takes every level, Proto only P3.
        protos = nhwc(self.proto(x) if _takes_all_levels(self.proto) else self.proto(x[0]))
        mask_coefs = [nhwc(mask_head[i](x[i])) for i in range(self.nl)]
        boxes = [nhwc(box_head[i](x[i])) for i in range(self.nl)]
        classes = [nhwc(cls_head[i](x[i])) for i in range(self.nl)]
        if layout == 'float32':
            per_level = [t for i in range(self.nl) for t in (classes[i], boxes[i], mask_coefs[i])]
            return (*per_level, protos)
        return (mask_coefs, boxes, classes, protos)

    head_class.forward = forward
    try:
        yield
    finally:
        head_class.forward = original


def _takes_all_levels(proto: Any) -> bool:
    from ultralytics.nn.modules.block import Proto26
    return isinstance(proto, Proto26)


def head_branches(head: Any) -> tuple[str, ...]:
    """Return the branches a Segment head has: ('one2one', 'one2many') or ('one2many',)."""
    if getattr(head, 'one2one_cv2', None) is not None:
        return BRANCHES if getattr(head, 'cv2', None) is not None else BRANCHES[:1]
    return BRANCHES[1:]


def load_model(source: str, num_classes: Optional[int] = None, seed: int = 0) -> Any:
    """Load an ultralytics segmentation model (.pt), or build one from a .yaml."""
    import torch
    from ultralytics import YOLO

    torch.manual_seed(seed)
    if source.endswith(('.yaml', '.yml')) and num_classes is None:
        # A file, or the name of one ultralytics ships (yolov8n-seg.yaml): nothing written.
        return YOLO(source, task='segment')
    if not source.endswith(('.yaml', '.yml')) and num_classes is not None:
        raise ValueError('--nc applies to a model .yaml only; a .pt already has its classes')
    # The model is read into memory here, so its temporary files go with this folder.
    with tempfile.TemporaryDirectory(prefix='yolov8-seg-export-') as work:
        if num_classes is None:
            # A copy: ultralytics keeps the path it loaded, so nothing can be written beside
            # the user's checkpoint.
            copy = Path(work) / Path(source).name
            shutil.copyfile(source, copy)
            return YOLO(str(copy), task='segment')
        from ultralytics.nn.tasks import yaml_model_load
        import yaml
        cfg = yaml_model_load(source)
        cfg['nc'] = int(num_classes)
        cfg.pop('yaml_file', None)
        scale = cfg.pop('scale', '')
        if scale and scale in cfg.get('scales', {}):
            cfg['scales'] = {scale: cfg['scales'][scale]}
        path = Path(work) / Path(source).name
        path.write_text(yaml.safe_dump(cfg))
        return YOLO(str(path), task='segment')


def export_split_onnx(model: Any, imgsz_hw: tuple[int, int], output: Path,
                      opset: int = 11, simplify: bool = True, layout: str = 'int32',
                      branch: Optional[str] = None) -> Path:
    """
    Export with the split-head forward in the layout's output order; returns the ONNX path.

    branch: 'one2one' or 'one2many' (None: one2one where the head has it, as a YOLO26).
    ultralytics writes the ONNX beside the model's file: into a temporary folder here, then
    moved (across file systems too) to output.
    """
    from ultralytics.nn.modules.head import Segment

    head = model.model.model[-1]
    if not isinstance(head, Segment):
        raise ValueError('expected a YOLO segmentation model (Segment or Segment26 head), got '
                         f'head {type(head).__name__}')
    if layout not in LAYOUTS:
        raise ValueError(f'layout {layout!r}: expected one of {LAYOUTS}')
    branch = resolve_branch(head, branch)
    output.parent.mkdir(parents=True, exist_ok=True)
    network = model.model
    previous = getattr(network, 'pt_path', None)
    with tempfile.TemporaryDirectory(prefix='yolov8-seg-export-') as work, \
            split_head_forward(type(head), layout, branch):
        network.pt_path = str(Path(work) / f'{output.stem}.pt')
        try:
            # nms=False keeps the one2one branch through ultralytics' fuse(), None one2many.
            exported = model.export(format='onnx', imgsz=list(imgsz_hw), opset=opset,
                                    simplify=simplify, dynamic=False, half=False,
                                    verbose=False, nms=False if branch == 'one2one' else None)
        finally:
            network.pt_path = previous
        shutil.move(str(exported), str(output))
    return output


def resolve_branch(head: Any, branch: Optional[str]) -> str:
    """Return the branch to export: the one asked for, or one2one where the head has it."""
    available = head_branches(head)
    if branch is None:
        return available[0]
    if branch not in BRANCHES:
        raise ValueError(f'branch {branch!r}: expected one of {BRANCHES}')
    if branch not in available:
        raise ValueError(f'branch {branch}: the {type(head).__name__} head has only '
                         f'{" and ".join(available)}')
    return branch


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
                         nodes: Sequence[str], cal_dir: str,
                         metadata_name: Optional[str] = None) -> str:
    """
    Return the toolchain commands, in order.

    With Dequantize node names (int32 layout) hb_model_modifier removes them; without (float32
    layout) the compiled .bin is the result. The metadata file is copied beside that .bin.
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
        copy = (f'cp {shlex.quote(metadata_name)} {prefix}/{prefix}{METADATA_SUFFIX}\n'
                if metadata_name else '')
        return (compile_steps
                + '# All ten outputs stay float32, in the model-zoo order (float32 layout).\n'
                + copy
                + f'# Result: {prefix}/{prefix}.bin -> model_path of the yolov8_seg node.\n')
    removes = ' \\\n'.join(f'  -r {shlex.quote(n)}' for n in nodes)
    return (
        compile_steps
        + f'cd {prefix}\n'
        '# Remove the Dequantize nodes of the 3 mask-coefficient and 3 box heads, so they\n'
        '# come out as int32 with per-channel scales (dequantized on the CPU only where needed).\n'
        f'hb_model_modifier {prefix}.bin \\\n{removes}\n'
        + (f'cp ../{shlex.quote(metadata_name)} {prefix}_modified{METADATA_SUFFIX}\n'
           if metadata_name else '')
        + f'# Result: {prefix}_modified.bin -> model_path of the yolov8_seg node.\n'
    )


@dataclass(frozen=True)
class Verification:
    """What verify_export compared, all of it equal to ultralytics within tolerance."""

    layout: HeadLayout
    heads: int
    max_head_error: float
    detections: int


def verify_export(onnx_path: Path, model: Any, sample_bgr: np.ndarray,
                  config: DecodeConfig, branch: str = 'one2many') -> Verification:
    """
    Check the ONNX with ONNX Runtime against ultralytics' own model on one letterboxed image.

    Every head tensor must equal the unpatched model's head outputs of branch (boxes, classes,
    mask coefficients per level, protos), independent of thresholds, then the decoded
    detections its prediction (one2one: ultralytics' NMS-free top-k, nms=False; one2many: its
    NMS). Raises RuntimeError on any difference, and when nothing was compared.
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
    end2end = branch == 'one2one'
    postprocessor = SegPostprocessor.for_outputs(outputs, end2end=end2end)
    layout = postprocessor.layout
    exported = [as_raw_output(o).data for o in outputs]
    heads, error = compare_heads(exported, layout, reference_heads(model, frame.tensor, branch))
    ours = postprocessor(outputs, frame.transform, config)
    imgsz = [backend.input_wh[1], backend.input_wh[0]]
    # predict() fuses the model in place, dropping the branch it does not use: heads first.
    reference = model.predict(sample_bgr, imgsz=imgsz, conf=config.conf_threshold,
                              iou=config.iou_threshold, max_det=config.max_det, rect=False,
                              verbose=False, nms=False if end2end else None)[0]
    _compare_to_ultralytics(ours, reference)
    return Verification(layout, heads, error, len(ours))


def reference_heads(model: Any, tensor: np.ndarray,
                    branch: str = 'one2many') -> dict[str, np.ndarray]:
    """
    Run ultralytics' own (unpatched) segmentation model on an NCHW input tensor.

    Returns the raw heads of branch: 'boxes' (4 * reg_max, A), 'scores' (nc, A) and
    'mask_coefficient' (32, A), anchors by level then row-major cell, and 'proto' (32, H, W).
    """
    import torch

    network = model.model
    network.eval()
    with torch.no_grad():
        (_, proto), raw = network(torch.from_numpy(np.ascontiguousarray(tensor)))
    if 'one2one' in raw:  # a head with both branches returns both
        raw = raw[branch]
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
        # Among its own class: a one2one head may give one box two classes.
        same_class = np.where(ref_classes == cls, ious, 0.0)
        if not same_class.size or same_class.max() < 0.95:
            raise RuntimeError(f'verification failed: detection {box.tolist()} class {cls} has '
                               'no ultralytics match (IoU >= 0.95, same class)')


def run_export(source: str, imgsz_hw: tuple[int, int], output: Optional[Path] = None,
               num_classes: Optional[int] = None, sample_image: Optional[Path] = None,
               opset: int = 11, simplify: bool = True, cal_dir: Optional[str] = None,
               seed: int = 0, layout: str = 'int32',
               branch: Optional[str] = None) -> ExportReport:
    """Export, verify and write the toolchain and metadata files (see the module docstring)."""
    import cv2
    import ultralytics

    model = load_model(source, num_classes, seed)
    if output is None:
        output = Path(source).with_suffix('.onnx').resolve()
    head = model.model.model[-1]
    branch = resolve_branch(head, branch)
    onnx_path = export_split_onnx(model, imgsz_hw, output, opset, simplify, layout, branch)
    if sample_image is None:
        from ultralytics.utils import ASSETS
        sample_image = Path(ASSETS) / 'bus.jpg'
    sample = cv2.imread(str(sample_image))
    if sample is None:
        raise FileNotFoundError(f'cannot read the verification image {sample_image}')
    verification = verify_export(onnx_path, model, sample, DecodeConfig(), branch)
    head_layout = verification.layout
    if head_layout.input_hw != tuple(imgsz_hw):
        raise RuntimeError(f'exported input {head_layout.input_hw} != requested {imgsz_hw}')
    nodes = dequantize_node_names(onnx_path, head_layout) if layout == 'int32' else ()
    cal_dir = cal_dir or f'calibration_data_rgb_f32_{imgsz_hw[1]}x{imgsz_hw[0]}'
    yaml_path = onnx_path.with_name(f'{model_prefix(onnx_path, imgsz_hw)}.yaml')
    yaml_path.write_text(ptq_yaml_text(onnx_path, imgsz_hw, cal_dir))
    names = [str(model.names[k]) for k in range(head_layout.num_classes)]
    metadata_path = write_metadata(
        onnx_path.with_name(onnx_path.stem + METADATA_SUFFIX),
        metadata_document(names, imgsz_hw, branch == 'one2one', type(head).__name__, layout,
                          ultralytics.__version__, datetime.now().astimezone().isoformat()))
    script_path = onnx_path.with_name(f'{onnx_path.stem}_toolchain.sh')
    script_path.write_text(modifier_script_text(onnx_path, imgsz_hw, yaml_path.name, nodes,
                                                cal_dir, metadata_path.name))
    script_path.chmod(0o755)
    return ExportReport(onnx_path, yaml_path, script_path, metadata_path, branch,
                        type(head).__name__, nodes, head_layout.input_hw,
                        head_layout.num_classes, verification.heads,
                        verification.max_head_error, verification.detections)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of yolov8-seg-export."""
    parser = argparse.ArgumentParser(prog='yolov8-seg-export', description=__doc__)
    parser.add_argument('model', help='ultralytics YOLOv8/YOLO11/YOLOv9/YOLO26 segmentation '
                        'checkpoint (.pt) or model yaml (e.g. yolov8n-seg.yaml, '
                        'yolo26n-seg.yaml)')
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
    parser.add_argument('--branch', choices=BRANCHES,
                        help="a YOLO26 head's branch: one2one (the default where the head has it: "
                        'trained end to end, decoded by top-k without NMS) or one2many '
                        "(decoded with NMS; what the model zoo's published .bin files carry)")
    args = parser.parse_args(argv)
    try:
        report = run_export(args.model, args.imgsz, args.output, args.nc, args.sample_image,
                            args.opset, not args.no_simplify, args.cal_dir, args.seed,
                            args.layout, args.branch)
    except (OSError, ValueError, RuntimeError) as error:
        print(f'yolov8-seg-export: {error}', file=sys.stderr)
        return 1
    print(f'ONNX:       {report.onnx_path} (input {report.input_hw[0]}x{report.input_hw[1]}, '
          f'{report.num_classes} classes, {report.head} head, {report.branch} branch: '
          f'{"top-k without NMS" if report.branch == "one2one" else "NMS"})')
    print(f"verified:   {report.verified_heads} heads equal ultralytics' own (largest "
          f"difference {report.max_head_error:.1e} of a head's range); "
          f'{report.verified_detections} detections match ultralytics')
    print(f'PTQ YAML:   {report.ptq_yaml_path}')
    print(f'Metadata:   {report.metadata_path}')
    print(f'Toolchain:  {report.modifier_script_path}')
    for name in report.dequantize_nodes:
        print(f'  remove:   {name}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
