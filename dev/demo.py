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
The demo: the bundled bag through the installed yolov8_seg node, results in demo_out/.

It starts the node with `ros2 launch yolov8_seg_ros seg.launch.py`, replays
demo/shapes_demo_bag (JPEG frames of moving shapes) into it over DDS, writes overlay and mask
PNGs plus detections.json to demo_out/, and prints one row per frame with each detection's
track id (`#id`), which follows its object from frame to frame. Run it with `make demo`;
`--make-bag` rewrites the bundled bag.
"""

import argparse
import json
from pathlib import Path
import sys
import time

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test'))  # the project's own bag and node-process helpers

from helpers.bags import (BagMessage, COMPRESSED, image_array, image_from_bgr,  # noqa: E402, I100
                          read_bag, typestore, write_bag)
from helpers.models import SHAPES_ONNX  # noqa: E402
from helpers.node_process import LaunchProcess, NodeClient, RELIABLE, SHAPES_NAMES  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from helpers.shapes_sequences import generate_sequence  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

BAG = ROOT / 'demo' / 'shapes_demo_bag'
OUT = ROOT / 'demo_out'


def make_bag(frames: int = 16, fps: float = 10.0) -> None:
    """Write the bundled bag: a moving-shapes sequence as 640x480 JPEG CompressedImage."""
    store = typestore()
    messages = []
    for index, frame in enumerate(generate_sequence(2026, frames, fps, num_objects=5,
                                                    start_stamp_s=0.0)):
        stamp = (1_700_000_000 + int(frame.stamp_s), int(round((frame.stamp_s % 1.0) * 1e9)))
        msg = image_from_bgr(store, frame.image_bgr, 'jpeg', stamp)
        messages.append(BagMessage('image', COMPRESSED, msg, int(1e9 * index / fps)))
    if BAG.exists():
        for path in BAG.iterdir():
            path.unlink()
        BAG.rmdir()
    write_bag(BAG, messages)
    print(f'wrote {BAG} ({len(messages)} frames)')


def run_demo() -> int:
    """Replay the bag frame by frame and write the results; returns the exit code."""
    OUT.mkdir(exist_ok=True)
    # The bag is replayed by a reliable publisher: subscribe reliably too (see the README).
    params = OUT / 'demo_params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    image_reliability: reliable\n')
    node = LaunchProcess({'model_path': SHAPES_ONNX, 'input_transport': 'compressed',
                          'class_names_file': SHAPES_NAMES, 'namespace': 'demo',
                          'params_file': params})
    print('started: ' + ' '.join(node.command[1:]))
    frames = []
    try:
        with ros_graph('demo_player') as graph:
            client = NodeClient(graph, node, 'image', COMPRESSED)
            overlays = graph.collect(Image, f'{node.fqn}/overlay', RELIABLE)
            # class_id is the numeric id (vision_msgs); its name comes from label_info.
            names = {str(c.class_id): c.class_name for c in client.wait_ready()[0].class_map}
            graph.spin_until(lambda: False, 1.0)  # the node sees the overlay subscriber
            print(f'{"frame":>5} {"stamp":>22} {"ms":>6} {"n":>3}  detections (#track id, '
                  'class, score)')
            for index, recorded in enumerate(read_bag(BAG)):
                overlay_count, mask_count = len(overlays), len(client.masks)
                started = time.perf_counter()
                detections = client.send_and_wait(recorded)
                latency_ms = (time.perf_counter() - started) * 1000.0
                graph.spin_until(lambda o=overlay_count, m=mask_count: len(overlays) > o
                                 and len(client.masks) > m, 10.0)
                stamp = detections.header.stamp
                cv2.imwrite(str(OUT / f'frame_{index:02d}_overlay.png'),
                            image_array(overlays[-1]))
                labels = image_array(client.masks[-1])
                cv2.imwrite(str(OUT / f'frame_{index:02d}_mask.png'),
                            (labels.astype(np.uint16) * 40 % 256).astype(np.uint8))
                items = [{'id': d.id, 'class_id': d.results[0].hypothesis.class_id,
                          'class': names[d.results[0].hypothesis.class_id],
                          'score': round(d.results[0].hypothesis.score, 4),
                          'bbox_center_xy': [round(d.bbox.center.position.x, 1),
                                             round(d.bbox.center.position.y, 1)],
                          'bbox_size_wh': [round(d.bbox.size_x, 1), round(d.bbox.size_y, 1)]}
                         for d in detections.detections]
                frames.append({'frame': index, 'stamp': f'{stamp.sec}.{stamp.nanosec:09d}',
                               'frame_id': detections.header.frame_id,
                               'round_trip_ms': round(latency_ms, 1), 'detections': items})
                summary = ', '.join(f'#{i["id"] or "-"} {i["class"]} {i["score"]:.2f}'
                                    for i in items)
                print(f'{index:>5} {stamp.sec:>12}.{stamp.nanosec:09d} {latency_ms:>6.1f} '
                      f'{len(items):>3}  {summary}')
        (OUT / 'detections.json').write_text(json.dumps(frames, indent=2))
        code = node.stop()
        if node.leftover_processes():
            print('error: a process of the launch outlived it')
            code = code or 1
    except BaseException:
        print(node.output())
        raise
    finally:
        node.close()
    print(f'wrote {len(frames)} overlay and mask PNGs and detections.json to {OUT}')
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--make-bag', action='store_true', help='rewrite the bundled bag')
    if parser.parse_args().make_bag:
        make_bag()
        return 0
    return run_demo()


if __name__ == '__main__':
    raise SystemExit(main())
