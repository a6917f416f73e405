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
Run D-Robotics' own pyeasy_dnn YOLO-seg demo, unmodified, against our pyeasy_dnn fake.

The demo is not part of this repository (fetch it yourself, e.g. rdk_model_zoo's
samples/vision/ultralytics_yolo/py/Ultralytics_YOLO_Seg_YUV420SP.py; it needs scipy). This
script writes a fake .bin of the shapes test model in the layout the demo reads (float32 for
the current samples), runs the demo in a subprocess with test/fakes on PYTHONPATH, and compares
the boxes it prints with our own pipeline's on the same image and fake model:
    python dev/vendor/check_vendor_sample.py /path/to/Ultralytics_YOLO_Seg_YUV420SP.py
Extra import paths for the demo (e.g. where scipy is) go in --pythonpath.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import re
import subprocess
import sys
import tempfile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'test'))
import cv2  # noqa: E402, I100
from helpers.fake_runtime import fake_pyeasy_dnn, FAKES, LAYOUTS, write_fake_bin  # noqa: E402
from helpers.models import SHAPES_ONNX  # noqa: E402
from helpers.shapes_dataset import generate_scene  # noqa: E402
import numpy as np  # noqa: E402
from yolov8_seg_ros.backends.hobot_dnn_backend import HobotDnnBackend  # noqa: E402
from yolov8_seg_ros.decode import DecodeConfig, SegPostprocessor  # noqa: E402
from yolov8_seg_ros.preprocess import Preprocessor  # noqa: E402
from yolov8_seg_ros.tracking import box_iou_matrix  # noqa: E402

DETECTION = re.compile(r'^\((\d+), (\d+), (\d+), (\d+)\) -> [^:]+: ([0-9.]+)$', re.M)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('demo', type=Path)
    parser.add_argument('--layout', choices=LAYOUTS, default='float32')
    parser.add_argument('--pythonpath', default='', help='extra import paths for the demo')
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix='vendor_sample_'))
    model = write_fake_bin(SHAPES_ONNX, work / 'shapes.bin', args.layout)
    scene = generate_scene(np.random.default_rng(3), 640, 480)
    image = work / 'scene.png'
    cv2.imwrite(str(image), scene.image_bgr)
    env = dict(os.environ)
    paths = (str(FAKES), args.pythonpath, env.get('PYTHONPATH', ''))
    env['PYTHONPATH'] = os.pathsep.join(p for p in paths if p)
    run = subprocess.run([sys.executable, str(args.demo.resolve()), '--model-path', str(model),
                          '--test-img', str(image), '--classes-num', '4', '--img-save-path',
                          str(work / 'result.jpg')], cwd=work, env=env, capture_output=True,
                         text=True, timeout=120)
    if run.returncode != 0:
        print(run.stdout + run.stderr)
        print(f'FAIL: the demo exited with {run.returncode}')
        return 1
    theirs = np.array([[float(v) for v in m[:4]] for m in DETECTION.findall(run.stdout)])
    with fake_pyeasy_dnn() as pyeasy_dnn:
        backend = HobotDnnBackend(str(model), pyeasy_dnn)
        frame = Preprocessor(backend.input_wh, 'nv12', pad_value=127)(scene.image_bgr, 'bgr8')
        ours = SegPostprocessor(backend.layout)(backend.infer(frame.tensor), frame.transform,
                                                DecodeConfig(iou_threshold=0.7))
    print(f'demo: {len(theirs)} detections; ours: {len(ours)} on {len(scene.instances)} shapes')
    if len(theirs) == 0 or len(theirs) != len(ours):
        print(run.stdout)
        print('FAIL: the detection counts differ')
        return 1
    # The demo truncates boxes to whole pixels: IoU 0.9 is a match.
    best = box_iou_matrix(theirs, ours.boxes_xyxy).max(axis=1)
    print(f'box IoU with ours: min {best.min():.3f}')
    if best.min() < 0.9:
        print('FAIL: a demo box has no match among ours')
        return 1
    print(f'OK: the unmodified demo ran against the pyeasy_dnn fake ({args.layout} layout)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
