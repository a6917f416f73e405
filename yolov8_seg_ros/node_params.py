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
The node's parameters in rclpy: declared with descriptors, checked at startup and on change.

The specs, ranges and validation live in yolov8_seg_ros.parameters (no rclpy); this module
turns them into descriptors, refuses a startup value rcl dropped, and decides a set request.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                              ParameterUninitializedException)
from rclpy.node import Node
from rclpy.parameter import Parameter

from yolov8_seg_ros.parameters import (change_refusal, given_values, PARAMETERS, ParamSpec,
                                       runtime_config, RuntimeConfig, StartupError, type_name,
                                       unapplied_value_problem, validate)
from yolov8_seg_ros.tracking import load_assignment_solver, TrackerUnavailableError


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Return the descriptor of a parameter: description, range, read-only (startup)."""
    text = spec.description + (f' (one of {", ".join(spec.choices)})' if spec.choices else '')
    if spec.applies == 'configure':
        text += '; takes effect at the next configure (change it while unconfigured)'
    result = ParameterDescriptor(description=text, read_only=spec.applies == 'startup')
    if spec.value_range is not None:
        low, high = spec.value_range
        if isinstance(spec.default, float):
            result.floating_point_range = [FloatingPointRange(
                from_value=float(low), to_value=float(high), step=0.0)]
        else:
            result.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                 step=1)]
    return result


def declare_parameters(node: Node, argv: Sequence[str]) -> dict[str, Any]:
    """
    Declare every parameter; return the values. Raises StartupError with the reason.

    rclpy does not say which overrides rcl dropped: argv is read again (its -p values and
    params files, typed by rcl's rules) and compared with what was declared.
    """
    values = {}
    for spec in PARAMETERS:
        try:
            values[spec.name] = node.declare_parameter(spec.name, spec.default,
                                                       descriptor(spec)).value
        except (InvalidParameterTypeException, InvalidParameterValueException,
                ParameterUninitializedException) as error:
            raise StartupError(_refused_value(node, spec, error)) from error
    for name, given in given_values(argv, node.get_fully_qualified_name()).items():
        problem = unapplied_value_problem(name, given, values.get(name))
        if problem:
            raise StartupError(f'parameter {problem}')
    return values


def _refused_value(node: Node, spec: ParamSpec, error: Exception) -> str:
    """
    Say why declare_parameter refused the value the user gave (command line or params file).

    rclpy has no public API for the override a failed declare_parameter was given: this reads
    Node._parameter_overrides (rclpy Humble to Jazzy). If rclpy renames it, the FATAL line only
    loses the offending value ('(not available)'), never its reason.
    """
    overrides = getattr(node, '_parameter_overrides', None)
    given = overrides.get(spec.name) if isinstance(overrides, dict) else None
    value = given.value if given is not None else '(not available)'
    if isinstance(error, InvalidParameterTypeException):
        return (f'parameter {spec.name} := {value!r}: expected a {type_name(spec.default)} '
                f'like {spec.default!r}, got a {type_name(value)}')
    problem = validate(spec.name, value)
    return f'parameter {problem or f"{spec.name} := {value!r} is not accepted"}'


def decide_change(parameters: Sequence[Parameter], values: dict[str, Any], node_fqn: str,
                  num_classes: Optional[int], current: Optional[RuntimeConfig]
                  ) -> tuple[SetParametersResult, dict[str, Any], Optional[RuntimeConfig]]:
    """
    Decide a set-parameters request: (result, the merged values, their runtime config).

    num_classes and current are None while unconfigured. Refused: values out of range, and
    configure-time parameters while configured, with the way to change them in the reason.
    """
    merged = dict(values)
    for parameter in parameters:
        if parameter.name not in merged:
            continue  # qos_overrides.* (read-only, declared by rclpy)
        problem = (change_refusal(parameter.name, node_fqn, num_classes is not None
                                  and parameter.value != values[parameter.name])
                   or validate(parameter.name, parameter.value, num_classes))
        if problem:
            return SetParametersResult(successful=False, reason=problem), values, current
        merged[parameter.name] = parameter.value
    try:
        config = runtime_config(merged)
        if config.tracking != 'none' and (current is None or current.tracking == 'none'):
            load_assignment_solver()
    except (ValueError, TrackerUnavailableError) as error:
        return SetParametersResult(successful=False, reason=str(error)), values, current
    return SetParametersResult(successful=True), merged, config


def startup_config(values: dict[str, Any]) -> RuntimeConfig:
    """Build the runtime config, and load the tracker's solver when tracking is on."""
    try:
        config = runtime_config(values)
        if config.tracking != 'none':
            load_assignment_solver()
    except (ValueError, TrackerUnavailableError) as error:
        raise StartupError(f'parameter {error}') from error
    return config
