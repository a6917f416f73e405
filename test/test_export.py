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

"""yolov8-seg-export and yolov8-seg-calib end to end: ONNX, verification, YAML, commands."""

import os
from pathlib import Path
import re
import shutil
import subprocess
import tempfile

import cv2
from helpers import pip_only
from helpers.models import SHAPES_PT, SHAPES_YOLO11_PT, SHAPES_YOLO26_PT
from helpers.shapes_dataset import generate_scene
import numpy as np
import pytest
import yaml
from yolov8_seg_ros.calibration import main as calib_main
from yolov8_seg_ros.decode import DecodeConfig
from yolov8_seg_ros.export import compare_heads, load_model, main as export_main, verify_export
from yolov8_seg_ros.layout import resolve_layout

SEED_NAMES = ['output0', 'output1', '371', '379', '387', '395', '403', '411', '419', '347']

pytest.importorskip('ultralytics', reason=pip_only('ultralytics'), exc_type=ImportError)
onnx = pytest.importorskip('onnx', reason=pip_only('onnx'), exc_type=ImportError)


def output_shapes(path):
    graph = onnx.load(str(path)).graph
    return [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim]) for o in graph.output]


def test_export_command_from_a_trained_checkpoint(tmp_path):
    # TMPDIR on another file system than the output (/dev/shm where it is one): the exporter's
    # temporary files must move across file systems and none may be left behind.
    shm = Path('/dev/shm')
    other_fs = shm.is_dir() and shm.stat().st_dev != tmp_path.stat().st_dev
    scratch = Path(tempfile.mkdtemp(dir=shm if other_fs else None, prefix='export-tmpdir-'))
    sample = tmp_path / 'scene.png'
    cv2.imwrite(str(sample), generate_scene(np.random.default_rng(3), 640, 480).image_bgr)
    weights = tmp_path / 'shapes.pt'
    shutil.copyfile(SHAPES_PT, weights)
    from helpers.node_process import installed_executable
    exe = str(installed_executable('yolov8-seg-export'))
    try:
        run = subprocess.run([exe, str(weights), '--imgsz', '320', '--sample-image', str(sample),
                              '--output', str(tmp_path / 'out' / 'shapes.onnx')],
                             capture_output=True, text=True, timeout=240, check=False,
                             env={**os.environ, 'TMPDIR': str(scratch)}, cwd=tmp_path)
        # Every temporary file and folder of ours removed (torch keeps its own caches there).
        left = [p for p in scratch.rglob('*') if p.suffix in ('.pt', '.onnx', '.yaml')
                or p.name.startswith(('yolov8-seg-export', 'tmp'))]
    finally:
        shutil.rmtree(scratch)
    assert run.returncode == 0, run.stdout + run.stderr
    assert left == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out', 'scene.png', 'shapes.pt']
    assert "verified:   10 heads equal ultralytics' own" in run.stdout
    assert 'detections match ultralytics' in run.stdout
    assert ' 0 detections' not in run.stdout  # the verification compared real detections
    out = tmp_path / 'out'
    shapes = output_shapes(out / 'shapes.onnx')
    assert [s for _, s in shapes] == [[1, 40, 40, 32], [1, 20, 20, 32], [1, 10, 10, 32],
                                      [1, 40, 40, 64], [1, 20, 20, 64], [1, 10, 10, 64],
                                      [1, 40, 40, 4], [1, 20, 20, 4], [1, 10, 10, 4],
                                      [1, 80, 80, 32]]
    model = onnx.load(str(out / 'shapes.onnx'))
    assert model.opset_import[0].version == 11
    config = yaml.safe_load((out / 'shapes_instance_seg_bayese_320x320_nv12.yaml')
                            .read_text())
    assert config['model_parameters'] == {
        'onnx_model': 'shapes.onnx', 'march': 'bayes-e', 'layer_out_dump': False,
        'working_dir': 'shapes_instance_seg_bayese_320x320_nv12',
        'output_model_file_prefix': 'shapes_instance_seg_bayese_320x320_nv12'}
    assert config['input_parameters']['input_type_rt'] == 'nv12'
    assert config['input_parameters']['input_type_train'] == 'rgb'
    assert config['input_parameters']['scale_value'] == pytest.approx(1 / 255)
    assert config['calibration_parameters']['cal_data_type'] == 'float32'
    script = (out / 'shapes_toolchain.sh').read_text()
    removed = [line.split('-r ')[1].rstrip(' \\') for line in script.splitlines()
               if line.strip().startswith('-r ')]
    assert removed == [f'/model.22/cv{h}.{i}/cv{h}.{i}.2/Conv_output_0_HzDequantize'
                       for h in (4, 2) for i in range(3)]
    assert 'hb_model_modifier shapes_instance_seg_bayese_320x320_nv12.bin' in script
    subprocess.run(['bash', '-n', str(out / 'shapes_toolchain.sh')], check=True)


def test_export_from_yaml_matches_the_seed_names_and_other_sizes(tmp_path):
    assert export_main(['yolov8n-seg.yaml', '--imgsz', '384x640', '--nc', '3',
                        '--output', str(tmp_path / 'custom.onnx')]) == 0
    shapes = output_shapes(tmp_path / 'custom.onnx')
    assert [n for n, _ in shapes] == SEED_NAMES
    assert shapes[0][1] == [1, 48, 80, 32] and shapes[6][1] == [1, 48, 80, 3]
    assert shapes[9][1] == [1, 96, 160, 32]
    assert (tmp_path / 'custom_instance_seg_bayese_640x384_nv12.yaml').exists()


def test_export_from_a_bundled_yaml_name_keeps_its_80_classes(tmp_path):
    # ultralytics resolves the name to the yaml it ships (what the COCO-shaped bench model uses).
    assert export_main(['yolov8n-seg.yaml', '--imgsz', '160',
                        '--output', str(tmp_path / 'coco.onnx')]) == 0
    shapes = output_shapes(tmp_path / 'coco.onnx')
    assert [n for n, _ in shapes] == SEED_NAMES
    assert shapes[6][1] == [1, 20, 20, 80] and shapes[9][1] == [1, 40, 40, 32]


def test_export_a_trained_yolo11_checkpoint_in_the_model_zoo_float32_layout(tmp_path):
    sample = tmp_path / 'scene.png'
    cv2.imwrite(str(sample), generate_scene(np.random.default_rng(3), 640, 480).image_bgr)
    weights = tmp_path / 'y11.pt'
    shutil.copyfile(SHAPES_YOLO11_PT, weights)
    beside = tmp_path / 'y11.onnx'  # the user's own file next to the checkpoint stays as it is
    beside.write_bytes(b'not this one')
    out = tmp_path / 'out'
    from helpers.node_process import installed_executable
    run = subprocess.run([str(installed_executable('yolov8-seg-export')), str(weights),
                          '--imgsz', '320', '--sample-image', str(sample), '--layout', 'float32',
                          '--output', str(out / 'y11.onnx')],
                         capture_output=True, text=True, timeout=240, check=False)
    assert beside.read_bytes() == b'not this one'
    assert run.returncode == 0, run.stdout + run.stderr
    assert ' 0 detections' not in run.stdout and 'detections match ultralytics' in run.stdout
    assert "verified:   10 heads equal ultralytics' own" in run.stdout
    assert 'remove:' not in run.stdout
    shapes = [s for _, s in output_shapes(out / 'y11.onnx')]
    assert shapes == [[1, 40, 40, 4], [1, 40, 40, 64], [1, 40, 40, 32],
                      [1, 20, 20, 4], [1, 20, 20, 64], [1, 20, 20, 32],
                      [1, 10, 10, 4], [1, 10, 10, 64], [1, 10, 10, 32], [1, 80, 80, 32]]
    script = (out / 'y11_toolchain.sh').read_text()
    assert 'hb_mapper makertbin' in script and 'hb_model_modifier' not in script
    assert 'y11_instance_seg_bayese_320x320_nv12/y11_instance_seg_bayese_320x320_nv12.bin' \
        in script
    subprocess.run(['bash', '-n', str(out / 'y11_toolchain.sh')], check=True)


def test_export_yolo11_yaml_in_the_seed_int32_layout(tmp_path, capsys):
    assert export_main(['yolo11n-seg.yaml', '--imgsz', '320', '--nc', '3',
                        '--output', str(tmp_path / 'y11n.onnx')]) == 0
    shapes = [s for _, s in output_shapes(tmp_path / 'y11n.onnx')]
    assert shapes[0] == [1, 40, 40, 32] and shapes[3] == [1, 40, 40, 64]
    assert shapes[6] == [1, 40, 40, 3] and shapes[9] == [1, 80, 80, 32]
    out = capsys.readouterr().out
    removed = [line.split()[-1] for line in out.splitlines() if 'remove:' in line]
    # YOLO11's head is layer 23 (YOLOv8's is 22): the names come from the graph, never a table.
    assert removed == [f'/model.23/cv{h}.{i}/cv{h}.{i}.2/Conv_output_0_HzDequantize'
                       for h in (4, 2) for i in range(3)]
    # Random weights: no class fires on the sample, yet every head was compared.
    assert "verified:   10 heads equal ultralytics' own" in out
    assert '; 0 detections match ultralytics' in out

    # The same export with its protos' rows and columns swapped (a wrong permute that keeps
    # the square shape) fails, though no detection differs.
    broken = onnx.load(str(tmp_path / 'y11n.onnx'))
    protos = broken.graph.output[9]
    for node in broken.graph.node:
        node.output[:] = [f'{o}_hw' if o == protos.name else o for o in node.output]
    broken.graph.node.append(onnx.helper.make_node('Transpose', [f'{protos.name}_hw'],
                                                   [protos.name], perm=[0, 2, 1, 3]))
    onnx.save(broken, str(tmp_path / 'broken.onnx'))
    model = load_model('yolo11n-seg.yaml', num_classes=3, seed=0)  # the same weights
    sample = generate_scene(np.random.default_rng(3), 640, 480).image_bgr
    assert verify_export(tmp_path / 'y11n.onnx', model, sample, DecodeConfig()).heads == 10
    with pytest.raises(RuntimeError, match=r'protos \(output 9\) differs from ultralytics'):
        verify_export(tmp_path / 'broken.onnx', model, sample, DecodeConfig())


def test_head_comparison_needs_all_ten_heads_in_the_right_place():
    layout = resolve_layout([(1, 8, 8, 32), (1, 4, 4, 32), (1, 2, 2, 32), (1, 8, 8, 64),
                             (1, 4, 4, 64), (1, 2, 2, 64), (1, 8, 8, 3), (1, 4, 4, 3),
                             (1, 2, 2, 3), (1, 16, 16, 32)], [False] * 10)
    rng = np.random.default_rng(0)
    anchors = 64 + 16 + 4
    reference = {'boxes': rng.normal(size=(64, anchors)), 'scores': rng.normal(size=(3, anchors)),
                 'mask_coefficient': rng.normal(size=(32, anchors)),
                 'proto': rng.normal(size=(32, 16, 16))}
    exported = [None] * 10
    offset = 0
    for level in layout.levels:
        h, w = level.grid_hw
        for role, index in (('boxes', level.box), ('scores', level.cls),
                            ('mask_coefficient', level.mask_coef)):
            exported[index] = reference[role][:, offset:offset + h * w].T.reshape(1, h, w, -1)
        offset += h * w
    exported[layout.protos] = reference['proto'].transpose(1, 2, 0)[None]
    assert compare_heads(exported, layout, reference) == (10, 0.0)
    swapped = list(exported)
    swapped[layout.levels[0].box] = exported[layout.levels[0].box][:, ::-1]
    with pytest.raises(RuntimeError, match='boxes of stride 8'):
        compare_heads(swapped, layout, reference)
    empty = {**reference, 'proto': np.zeros((32, 0, 16))}
    with pytest.raises(RuntimeError, match='protos'):
        compare_heads(exported, layout, empty)


def test_export_rejects_nc_for_a_checkpoint(capsys):
    assert export_main([str(SHAPES_PT), '--nc', '3']) == 1
    assert 'applies to a model .yaml only' in capsys.readouterr().err


def test_calibration_samples_are_rgb_float32_with_the_runtime_letterbox(tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    image = np.zeros((480, 640, 3), np.uint8)
    image[..., 2] = 200  # pure red in BGR
    cv2.imwrite(str(images / 'red.png'), image)
    (images / 'notes.txt').write_text('not an image')
    assert calib_main([str(images), str(tmp_path / 'out'), '--imgsz', '320']) == 0
    data = np.fromfile(tmp_path / 'out' / 'red.rgbchw', dtype=np.float32)
    assert data.size == 3 * 320 * 320
    chw = data.reshape(3, 320, 320)
    np.testing.assert_array_equal(chw[:, 160, 160], [200, 0, 0])  # R first, 0..255
    np.testing.assert_array_equal(chw[:, 10, 160], [127, 127, 127])  # letterbox padding
    assert calib_main([str(tmp_path / 'out'), str(tmp_path / 'x')]) == 1


def test_export_leaves_the_installed_head_untouched():
    from ultralytics.nn.modules.head import Segment
    from yolov8_seg_ros.export import split_head_forward
    original = Segment.forward
    with pytest.raises(RuntimeError), split_head_forward(Segment):
        assert Segment.forward is not original
        raise RuntimeError('export failed')
    assert Segment.forward is original
    assert Path(Segment.__module__.replace('.', '/')).name == 'head'


def onnx_conv_names(path):
    return [node.name for node in onnx.load(str(path)).graph.node if node.op_type == 'Conv']


def test_export_yolo26_yaml_one2one_by_default_with_its_metadata(tmp_path, capsys):
    assert export_main(['yolo26n-seg.yaml', '--imgsz', '320', '--nc', '3', '--layout',
                        'float32', '--output', str(tmp_path / 'y26.onnx')]) == 0
    out = capsys.readouterr().out
    assert 'Segment26 head, one2one branch: top-k without NMS' in out
    assert "verified:   10 heads equal ultralytics' own" in out
    shapes = [s for _, s in output_shapes(tmp_path / 'y26.onnx')]
    assert shapes == [[1, 40, 40, 3], [1, 40, 40, 4], [1, 40, 40, 32],
                      [1, 20, 20, 3], [1, 20, 20, 4], [1, 20, 20, 32],
                      [1, 10, 10, 3], [1, 10, 10, 4], [1, 10, 10, 32], [1, 80, 80, 32]]
    convs = onnx_conv_names(tmp_path / 'y26.onnx')
    heads = [n for n in convs if '/model.23/' in n and n.endswith('.2/Conv')]
    assert sorted(heads) == sorted(f'/model.23/one2one_cv{h}.{i}/one2one_cv{h}.{i}.2/Conv'
                                   for h in (2, 3, 4) for i in range(3))
    assert any('/proto/feat_refine' in n for n in convs)  # Proto26 got P4 and P5
    metadata = yaml.safe_load((tmp_path / 'y26.metadata.yaml').read_text())
    assert metadata['end2end'] is True and metadata['branch'] == 'one2one'
    assert metadata['head'] == 'Segment26' and metadata['layout'] == 'float32'
    assert metadata['imgsz'] == [320, 320] and len(metadata['names']) == 3
    script = (tmp_path / 'y26_toolchain.sh').read_text()
    prefix = 'y26_instance_seg_bayese_320x320_nv12'
    assert f'cp y26.metadata.yaml {prefix}/{prefix}.metadata.yaml' in script
    subprocess.run(['bash', '-n', str(tmp_path / 'y26_toolchain.sh')], check=True)


def test_export_yolo26_one2many_branch_behind_a_flag_in_the_int32_layout(tmp_path, capsys):
    assert export_main(['yolo26n-seg.yaml', '--imgsz', '256x320', '--nc', '4', '--branch',
                        'one2many', '--output', str(tmp_path / 'y26.onnx')]) == 0
    out = capsys.readouterr().out
    assert 'one2many branch: NMS' in out and "10 heads equal ultralytics' own" in out
    shapes = [s for _, s in output_shapes(tmp_path / 'y26.onnx')]
    # The seed order, 4 classes: the box heads are the middle block.
    assert shapes[3:6] == [[1, 32, 40, 4], [1, 16, 20, 4], [1, 8, 10, 4]]
    assert shapes[6:9] == [[1, 32, 40, 4], [1, 16, 20, 4], [1, 8, 10, 4]]
    layout = resolve_layout([tuple(s) for s in shapes])
    assert layout.reg_max == 1 and [lv.box for lv in layout.levels] == [3, 4, 5]
    removed = [line.split()[-1] for line in out.splitlines() if 'remove:' in line]
    assert removed == [f'/model.23/cv{h}.{i}/cv{h}.{i}.2/Conv_output_0_HzDequantize'
                       for h in (4, 2) for i in range(3)]
    assert not any('one2one' in n for n in onnx_conv_names(tmp_path / 'y26.onnx'))
    metadata = yaml.safe_load((tmp_path / 'y26.metadata.yaml').read_text())
    assert metadata['end2end'] is False and metadata['branch'] == 'one2many'
    script = (tmp_path / 'y26_toolchain.sh').read_text()
    assert ('cp ../y26.metadata.yaml '
            'y26_instance_seg_bayese_320x256_nv12_modified.metadata.yaml') in script
    # A YOLOv8 head has no one2one branch to give.
    assert export_main(['yolov8n-seg.yaml', '--imgsz', '160', '--branch', 'one2one',
                        '--output', str(tmp_path / 'v8.onnx')]) == 1
    assert 'has only one2many' in capsys.readouterr().err


def test_ultralytics_default_export_keeps_only_the_one2many_branch(tmp_path):
    # What the model zoo's export script gets: ultralytics 8.4.190 with nms unset sets
    # end2end False, and fuse() then drops one2one_cv2/3/4 (they become None).
    model = load_model('yolo26n-seg.yaml', num_classes=2)
    head = model.model.model[-1]
    assert head.one2one_cv2 is not None and not head.end2end  # no _end2end after a build
    model.model.pt_path = str(tmp_path / 'default.pt')  # ultralytics writes beside it
    exported = model.export(format='onnx', imgsz=128, opset=11, simplify=False, verbose=False)
    assert Path(exported) == tmp_path / 'default.onnx'
    convs = onnx_conv_names(exported)
    assert any('/cv2.0/' in n for n in convs) and not any('one2one' in n for n in convs)
    assert head.one2one_cv2 is not None  # the export fused a copy
    import copy
    fused = copy.deepcopy(model.model).fuse(verbose=False).model[-1]
    assert fused.one2one_cv2 is None and fused.cv2 is not None


def test_export_the_trained_yolo26_checkpoint_matches_its_detections(tmp_path):
    sample = tmp_path / 'scene.png'
    cv2.imwrite(str(sample), generate_scene(np.random.default_rng(3), 640, 480).image_bgr)
    weights = tmp_path / 'y26.pt'
    shutil.copyfile(SHAPES_YOLO26_PT, weights)
    from helpers.node_process import installed_executable
    run = subprocess.run([str(installed_executable('yolov8-seg-export')), str(weights),
                          '--imgsz', '320', '--sample-image', str(sample)],
                         capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    # The scene's five shapes: the export's own check compared real detections.
    matched = re.search(r'; (\d+) detections match ultralytics', run.stdout)
    assert matched and int(matched.group(1)) >= 4, run.stdout
    assert yaml.safe_load((tmp_path / 'y26.metadata.yaml').read_text())['names'] == {
        0: 'circle', 1: 'rectangle', 2: 'triangle', 3: 'star'}
