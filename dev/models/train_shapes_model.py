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
Train the project's synthetic-shapes YOLOv8-seg (or YOLO11-seg, YOLO26-seg) test model on the CPU.

Usage (from the repository root, inside the dev venv):
    python dev/models/train_shapes_model.py --out build/shapes_train
    python dev/models/train_shapes_model.py --arch yolo11 --epochs 50 \
        --weights-out test/fixtures/models/shapes_yolo11_seg_320.pt
The settings below are the ones that produced test/fixtures/models/shapes_seg_320.pt (and,
with the second line, shapes_yolo11_seg_320.pt; shapes_seg_320_overlap.pt is the first
fine-tuned on scenes 60 % of which overlap; shapes_yolo26_seg_320.pt is --arch yolo26: the
commands are in `make model`); the committed ONNX fixtures are then made with
`yolov8-seg-export` (see `make model`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'test'))
from helpers.shapes_dataset import write_yolo_dataset  # noqa: E402, I100

SETTINGS = {
    'dataset_seed': 20261124,
    'num_train': 400,
    'num_val': 32,
    'imgsz': 320,
    'epochs': 60,  # the committed checkpoint is epoch 36 of this schedule (see README)
    'batch': 16,
    'seed': 0,
}
# YOLO11-seg and YOLO26-seg: ultralytics' own yolo11-seg.yaml / yolo26-seg.yaml graphs at the
# 'n' depth and an eighth of the width.
TINY_SCALES = {'yolo11': [0.50, 0.125, 1024], 'yolo26': [0.50, 0.125, 1024]}


def model_config(arch: str, folder: Path) -> Path:
    """Return the model yaml to train: ours for yolov8, ultralytics' yolo11/26 yaml rescaled."""
    if arch == 'yolov8':
        return Path(__file__).with_name('shapes-seg.yaml')
    from ultralytics.nn.tasks import yaml_model_load
    import yaml
    cfg = yaml_model_load(f'{arch}n-seg.yaml')
    cfg.pop('yaml_file', None)
    cfg.update(nc=4, scale='t', scales={'t': TINY_SCALES[arch]})
    path = folder / f'shapes-{arch}t-seg.yaml'
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=Path('build/shapes_train'))
    parser.add_argument('--arch', choices=('yolov8', 'yolo11', 'yolo26'), default='yolov8')
    parser.add_argument('--epochs', type=int, default=SETTINGS['epochs'])
    parser.add_argument('--num-train', type=int, default=SETTINGS['num_train'])
    parser.add_argument('--weights-out', type=Path,
                        default=Path('test/fixtures/models/shapes_seg_320.pt'))
    parser.add_argument('--finetune-from', type=Path, default=None,
                        help='start from these weights (lower learning rate, no warm-up)')
    parser.add_argument('--overlapping-fraction', type=float, default=0.0,
                        help='fraction of the scenes with overlapping shapes')
    parser.add_argument('--dataset-seed', type=int, default=SETTINGS['dataset_seed'])
    parser.add_argument('--batch', type=int, default=SETTINGS['batch'])
    parser.add_argument('--workers', type=int, default=2, help='data loader processes')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch CPU threads (0: its default, one per core)')
    args = parser.parse_args()

    import torch
    from ultralytics import YOLO  # heavy, training only

    if args.threads:
        from ultralytics.utils import torch_utils
        torch_utils.NUM_THREADS = args.threads  # select_device() sets torch's threads from it
        torch.set_num_threads(args.threads)

    started = time.monotonic()
    data_yaml = write_yolo_dataset(args.out / 'dataset', args.num_train, SETTINGS['num_val'],
                                   args.dataset_seed,
                                   overlapping_fraction=args.overlapping_fraction)
    print(f'dataset written in {time.monotonic() - started:.1f} s')
    finetune = {}
    if args.finetune_from is not None:
        # A copy: ultralytics writes beside the weights it loads.
        start = args.out / 'start.pt'
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.finetune_from, start)
        model = YOLO(str(start), task='segment')
        finetune = {'lr0': 0.002, 'warmup_epochs': 0.0, 'pretrained': str(start)}
    else:
        model = YOLO(str(model_config(args.arch, args.out)), task='segment')
    model.train(data=str(data_yaml), imgsz=SETTINGS['imgsz'], epochs=args.epochs,
                batch=args.batch, seed=SETTINGS['seed'], deterministic=True,
                device='cpu', workers=args.workers, cache='ram', val=False, plots=False,
                project=str(args.out.resolve()), name='run', exist_ok=True,
                amp=False, close_mosaic=max(1, args.epochs // 5), verbose=False,
                **{'pretrained': False, **finetune})
    best = args.out / 'run' / 'weights' / 'last.pt'
    args.weights_out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best, args.weights_out)
    print(f'trained in {time.monotonic() - started:.1f} s -> {args.weights_out}')


if __name__ == '__main__':
    main()
