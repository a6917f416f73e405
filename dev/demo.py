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
track id (`#id`), which follows its object from frame to frame. Then it starts the node again
with a depth input and replays demo/shapes_depth_bag (JPEG colour, 16UC1 depth at half its
size, camera info) and writes, beside each frame's overlay, a top-down view of the objects'
3D boxes with their track ids and z (demo_out/depth_frame_NN_topdown.png), and copies an
overlay of each half and a top-down view to docs/images/ for the README. Run it with `make
demo`; `--make-bag` rewrites the bundled bags.

`make demo ARGS=--loop` instead starts the node as the README's "Demo with your ROS 2" does
(root namespace) and replays demo/shapes_demo_bag in a loop at its recorded rate, as `ros2 bag
play --loop` would, until Ctrl-C; it runs the README's second-shell commands once against it,
so they are known to work as written.
"""

import argparse
import contextlib
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, Iterator

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test'))  # the project's own bag and node-process helpers

from helpers.bags import (BagMessage, CAMERA_INFO, camera_info,  # noqa: E402, I100
                          COMPRESSED, depth_image, IMAGE, image_array, image_from_bgr,
                          message_class, read_bag, typestore, write_bag)
from helpers.models import SHAPES_ONNX  # noqa: E402
from helpers.node_process import LaunchProcess, NodeClient, RELIABLE, SHAPES_NAMES  # noqa: E402
from helpers.ros_graph import ros_graph  # noqa: E402
from helpers.shapes_sequences import generate_sequence  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection3DArray  # noqa: E402
from yolov8_seg_ros.overlay import class_color  # noqa: E402

BAG = ROOT / 'demo' / 'shapes_demo_bag'
DEPTH_BAG = ROOT / 'demo' / 'shapes_depth_bag'
OUT = ROOT / 'demo_out'
DEPTH_TOPIC = 'camera/depth/image_rect_raw'
IMAGES = ROOT / 'docs' / 'images'
# The frames the README shows (tracks confirmed, every object in view).
README_IMAGES = {'frame_03_overlay.png': 'demo_overlay.png',
                 'depth_frame_05_overlay.png': 'demo_depth_overlay.png',
                 'depth_frame_05_topdown.png': 'demo_topdown.png'}
# What the README's "Demo with your ROS 2" runs, from the package's source folder. --loop
# runs the launch (its own replay stands in for ros2 bag play) and the second-shell commands.
LOOP_LAUNCH = ('ros2 launch yolov8_seg_ros seg.launch.py '
               'model_path:=test/fixtures/models/shapes_seg_320.onnx '
               'class_names_file:=config/shapes_class_names.txt input_transport:=compressed')
LOOP_BAG_PLAY = 'ros2 bag play demo/shapes_demo_bag --loop'
SECOND_SHELL = ('ros2 topic echo /yolov8_seg/detections --once',
                'ros2 topic hz /yolov8_seg/detections',
                'ros2 param set /yolov8_seg conf_threshold 0.5',
                'ros2 param describe /yolov8_seg conf_threshold')


def _replace_bag(path: Path, messages: list) -> None:
    if path.exists():
        for item in path.iterdir():
            item.unlink()
        path.rmdir()
    write_bag(path, messages)
    print(f'wrote {path} ({len(messages)} messages)')


def make_depth_bag(frames: int = 8, fps: float = 10.0) -> None:
    """Write the depth demo bag: one rendered scene as JPEG, noisy 16UC1 depth, camera info."""
    from helpers.depth_scenes import add_noise, CAMERA, render_scene, to_millimetres
    from yolov8_seg_ros.depth import Intrinsics
    store = typestore()
    scene = render_scene(5)
    colour = cv2.resize(scene.image_bgr, (640, 360), interpolation=cv2.INTER_AREA)
    # Depth at a quarter of the rendered size (half the colour's), as a stereo camera gives it.
    quarter = cv2.resize(scene.depth_m, (320, 180), interpolation=cv2.INTER_NEAREST)
    camera = Intrinsics(CAMERA.fx / 4, CAMERA.fy / 4, (CAMERA.cx + 0.5) / 4 - 0.5,
                        (CAMERA.cy + 0.5) / 4 - 0.5, 320, 180)
    messages = []
    for index in range(frames):
        time_ns = int(round(1e9 * index / fps))
        stamp = (1_700_000_100 + time_ns // 1_000_000_000, time_ns % 1_000_000_000)
        frame_id = 'camera_depth_optical_frame'
        messages += [BagMessage('camera/depth/camera_info', CAMERA_INFO,
                                camera_info(store, camera, stamp, frame_id), time_ns),
                     BagMessage(DEPTH_TOPIC, IMAGE, depth_image(store, to_millimetres(
                         add_noise(quarter, index)), stamp, frame_id), time_ns + 1),
                     BagMessage('image', COMPRESSED, image_from_bgr(store, colour, 'jpeg', stamp),
                                time_ns + 2)]
    _replace_bag(DEPTH_BAG, messages)


def distance_m(detection: Any) -> float:
    """Distance from the camera to a Detection3D's box centre, metres."""
    centre = detection.bbox.center.position
    return float(np.linalg.norm([centre.x, centre.y, centre.z]))


def top_down_view(detections: Any, names: dict[str, str], size: int = 480,
                  range_m: float = 10.0) -> np.ndarray:
    """
    Draw a bird's-eye picture of the 3D boxes: x across, z (ahead) up, camera at the bottom.

    Each box is labelled with its z, which the grid lines read: `#id class z 1.23 m`.
    """
    canvas = np.full((size, size, 3), 32, np.uint8)
    scale = size / range_m

    def pixel(x: float, z: float) -> tuple[int, int]:
        return int(round(size / 2 + x * scale)), int(round(size - z * scale))

    for metres in range(1, int(range_m)):
        cv2.line(canvas, pixel(-range_m, metres), pixel(range_m, metres), (60, 60, 60), 1)
        cv2.putText(canvas, f'{metres} m', (4, pixel(0, metres)[1] - 3),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, (140, 140, 140), 1, cv2.LINE_AA)
    cv2.circle(canvas, pixel(0.0, 0.0), 6, (255, 255, 255), -1)
    for detection in detections.detections:
        centre, box = detection.bbox.center.position, detection.bbox.size
        class_id = detection.results[0].hypothesis.class_id
        color = class_color(int(class_id)) if class_id.isdigit() else (200, 200, 200)
        half_x, half_z = max(box.x / 2, 0.05), max(box.z / 2, 0.05)
        cv2.rectangle(canvas, pixel(centre.x - half_x, centre.z + half_z),
                      pixel(centre.x + half_x, centre.z - half_z), color, 2)
        label = f'{"#" + detection.id + " " if detection.id else ""}' \
                f'{names.get(class_id, class_id)} z {centre.z:.2f} m'
        (text_w, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        x, y = pixel(centre.x + half_x, centre.z)
        if x + 4 + text_w > size:  # no room on the right: write it on the box's left
            x = pixel(centre.x - half_x, centre.z)[0] - 8 - text_w
        cv2.putText(canvas, label, (max(x + 4, 0), y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    color, 1, cv2.LINE_AA)
    return canvas


def make_bag(frames: int = 16, fps: float = 10.0) -> None:
    """Write the bundled bag: a moving-shapes sequence as 640x480 JPEG CompressedImage."""
    store = typestore()
    messages = []
    for index, frame in enumerate(generate_sequence(2026, frames, fps, num_objects=5,
                                                    start_stamp_s=0.0)):
        stamp = (1_700_000_000 + int(frame.stamp_s), int(round((frame.stamp_s % 1.0) * 1e9)))
        msg = image_from_bgr(store, frame.image_bgr, 'jpeg', stamp)
        messages.append(BagMessage('image', COMPRESSED, msg, int(1e9 * index / fps)))
    _replace_bag(BAG, messages)


@contextlib.contextmanager
def launched(arguments: dict) -> Iterator[LaunchProcess]:
    """Run `ros2 launch` with these arguments; print its output if anything fails, then close."""
    node = LaunchProcess(arguments)
    print('started: ' + ' '.join(node.command[1:]))
    try:
        yield node
    except BaseException:
        print(node.output())
        raise
    finally:
        node.close()


def stop_launch(node: LaunchProcess) -> int:
    """Stop the launch with SIGINT; returns its exit code, 1 when a process outlived it."""
    code = node.stop()
    if node.leftover_processes():
        print('error: a process of the launch outlived it')
        code = code or 1
    return code


def run_demo() -> int:
    """Replay the bag frame by frame and write the results; returns the exit code."""
    OUT.mkdir(exist_ok=True)
    # The bag is replayed by a reliable publisher: subscribe reliably too (see the README).
    params = OUT / 'demo_params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    image_reliability: reliable\n')
    frames = []
    with launched({'model_path': SHAPES_ONNX, 'input_transport': 'compressed',
                   'class_names_file': SHAPES_NAMES, 'namespace': 'demo',
                   'params_file': params}) as node:
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
        code = stop_launch(node)
    print(f'wrote {len(frames)} overlay and mask PNGs and detections.json to {OUT}')
    return code or run_depth_demo()


def run_depth_demo() -> int:
    """Replay the depth bag into a node with depth_topic; write overlays and top-down views."""
    params = OUT / 'demo_params.yaml'
    written = 0
    with launched({'model_path': SHAPES_ONNX, 'input_transport': 'compressed',
                   'class_names_file': SHAPES_NAMES, 'namespace': 'demo_depth',
                   'depth_topic': DEPTH_TOPIC, 'params_file': params}) as node:
        with ros_graph('demo_depth_player') as graph:
            client = NodeClient(graph, node, 'image', COMPRESSED)
            overlays = graph.collect(Image, f'{node.fqn}/overlay', RELIABLE)
            located = graph.collect(Detection3DArray, f'{node.fqn}/detections_3d', RELIABLE)
            names = {str(c.class_id): c.class_name for c in client.wait_ready()[0].class_map}
            publishers = {topic: graph.node.create_publisher(
                message_class(kind), f'/demo_depth/{topic}', RELIABLE)
                for topic, kind in ((DEPTH_TOPIC, IMAGE),
                                    ('camera/depth/camera_info', CAMERA_INFO))}
            graph.spin_until(lambda: all(p.get_subscription_count() for p in
                                         publishers.values()), 10.0)
            graph.spin_until(lambda: False, 1.0)
            print(f'{"frame":>5} {"stamp":>22}  3D detections (#track id, class, distance)')
            for recorded in read_bag(DEPTH_BAG):
                if recorded.topic != 'image':
                    publishers[recorded.topic].publish(recorded.raw)
                    graph.spin_until(lambda: False, 0.1)
                    continue
                counts = (len(overlays), len(located))
                detections = client.send_and_wait(recorded)
                assert graph.spin_until(lambda c=counts: len(overlays) > c[0]
                                        and len(located) > c[1], 10.0), node.output()
                stamp = detections.header.stamp
                cv2.imwrite(str(OUT / f'depth_frame_{written:02d}_overlay.png'),
                            image_array(overlays[-1]))
                cv2.imwrite(str(OUT / f'depth_frame_{written:02d}_topdown.png'),
                            top_down_view(located[-1], names))
                summary = ', '.join(
                    f'#{d.id or "-"} {names[d.results[0].hypothesis.class_id]} '
                    f'{distance_m(d):.2f} m' for d in located[-1].detections)
                print(f'{written:>5} {stamp.sec:>12}.{stamp.nanosec:09d}  {summary}')
                written += 1
        code = stop_launch(node)
    print(f'wrote {written} depth overlays and top-down views to {OUT}')
    return code


def copy_readme_images() -> None:
    """Copy the frames the README shows from demo_out/ to docs/images/."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    for source, target in README_IMAGES.items():
        shutil.copyfile(OUT / source, IMAGES / target)
    print(f'copied {", ".join(README_IMAGES.values())} to {IMAGES}')


def run_second_shell_commands() -> int:
    """Run the README's second-shell commands once; returns how many failed."""
    failed = 0
    for command in SECOND_SHELL:
        print(f'$ {command}')
        # topic hz never ends by itself: a few seconds of its output show the rate.
        limit_s = 6.0 if ' hz ' in command else 60.0
        try:
            done = subprocess.run(command.split(), capture_output=True, text=True,
                                  timeout=limit_s, cwd=ROOT)
            output, code = done.stdout + done.stderr, done.returncode
        except subprocess.TimeoutExpired as expired:
            output = (expired.stdout or b'').decode() + (expired.stderr or b'').decode()
            code = 0 if 'average rate' in output else 1
        lines = output.strip().splitlines()
        print('\n'.join(lines[:12] + (['  ...'] if len(lines) > 12 else [])))
        failed += code != 0
    return failed


def run_loop(seconds: float) -> int:
    """Run the README's own-ROS demo with the bag looped until Ctrl-C (or for seconds)."""
    # Exactly the README's launch line: its arguments, the default params file.
    arguments: dict[str, Any] = dict(part.split(':=', 1) for part in LOOP_LAUNCH.split()[4:])
    os.chdir(ROOT)  # the launch line's paths are relative to the package's folder
    recorded = list(read_bag(BAG))
    print(f'instead of `{LOOP_BAG_PLAY}` (ros2 bag is not needed) the demo replays the bag')
    failures: list[int] = []
    with launched(arguments) as node, ros_graph('demo_loop_player') as graph:
        node.namespace = ''  # the root namespace: the client's topics are /image, /yolov8_seg/...
        client = NodeClient(graph, node, 'image', COMPRESSED, masks=False)
        client.wait_ready()
        print('the node runs; in a second shell (source dev/env.sh) try:\n  '
              + '\n  '.join(SECOND_SHELL) + '\nCtrl-C stops the demo; first it runs them once:')
        # The commands need frames flowing: they run beside the replay.
        checker = threading.Thread(target=lambda: failures.append(run_second_shell_commands()),
                                   daemon=True)
        checker.start()
        started, loops = time.monotonic(), 0
        try:
            while checker.is_alive() or seconds <= 0 or time.monotonic() - started < seconds:
                loop_start = time.monotonic()
                for message in recorded:
                    due = loop_start + (message.time_ns - recorded[0].time_ns) / 1e9
                    graph.spin_until(lambda: False, max(0.0, due - time.monotonic()))
                    client.send(message)
                loops += 1
                graph.spin_until(lambda: False, 0.1)
        except KeyboardInterrupt:
            pass
        print(f'replayed the bag {loops} times; {len(client.detections)} detections received')
        code = stop_launch(node)
    if failures and failures[0]:
        print(f'error: {failures[0]} of the second-shell commands failed')
        return 1
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--make-bag', action='store_true', help='rewrite the bundled bag')
    parser.add_argument('--loop', action='store_true',
                        help='keep the node running on the looped bag until Ctrl-C')
    parser.add_argument('--seconds', type=float, default=0.0,
                        help='with --loop: stop after this long (0: at Ctrl-C)')
    args = parser.parse_args()
    if args.make_bag:
        make_bag()
        make_depth_bag()
        return 0
    if args.loop:
        return run_loop(args.seconds)
    code = run_demo()
    if code == 0:
        copy_readme_images()
    return code


if __name__ == '__main__':
    raise SystemExit(main())
