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


"""What /diagnostics says about the node beyond its counters (no rclpy)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from yolov8_seg_ros.frame_step import FrameContext
from yolov8_seg_ros.pipeline import SegmentationPipeline


def idle_reason(state: str, subscribed: bool, last_error: Optional[str]) -> Optional[str]:
    """Return why no images are taken on purpose now, or None while they are."""
    failed = f' (last transition failed: {last_error})' if last_error else ''
    if state == 'unconfigured':
        return f'unconfigured: waiting for configure{failed}'
    if state == 'inactive':
        return f'inactive: model loaded, no image subscription{failed}'
    if state == 'active' and not subscribed:
        return f'active, lazy: no output subscriber, so no image subscription{failed}'
    return None


def status_values(state: str, values: Mapping[str, Any], context: Optional[FrameContext],
                  subscribed: bool, active_tracks: int) -> tuple[dict[str, str], str]:
    """Return the diagnostic key/values and the hardware id (the backend's name once loaded)."""
    status = {'lifecycle_state': state,
              'subscribed': str(subscribed).lower(),
              'lazy': str(values['lazy']).lower(),
              'tracking': str(values['tracking']),
              'active_tracks': str(active_tracks),
              'model': str(values['model_path'])}
    hardware_id = str(values['backend'])
    if context is None:
        return status, hardware_id
    backend = context.pipeline.backend
    pid = getattr(backend, 'pid', None)
    status['inference_process'] = 'off' if pid is None else f'pid {pid}'
    status.update({str(key): str(value)
                   for key, value in (getattr(backend, 'scheduling', None) or {}).items()})
    status.update({'backend': backend.name, 'runtime_version': backend.runtime_version,
                   'model_input': f'{backend.input_wh[0]}x{backend.input_wh[1]} '
                                  f'{backend.input_format}',
                   'input_topic': context.input_topic})
    if context.depth is not None:
        status.update({'depth_topic': context.depth.depth_topic,
                       'depth_camera_info_topic': context.depth.info_topic,
                       **{name: str(count) for name, count in context.depth.counts.items()}})
    return status, backend.name


def loaded_message(pipeline: SegmentationPipeline, values: Mapping[str, Any], topic: str) -> str:
    """Return the log line of a successful configure: backend, model, input."""
    backend = pipeline.backend
    return (f'{backend.name} {backend.runtime_version} backend, model {values["model_path"]} '
            f'({backend.input_wh[0]}x{backend.input_wh[1]} {backend.input_format}, '
            f'{pipeline.num_classes} classes); input {topic} ({values["input_transport"]})')
