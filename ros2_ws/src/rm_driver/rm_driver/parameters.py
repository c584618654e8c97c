"""The driver's parameters: declaration with descriptors, and validation.

A bad value is refused both at start (the node exits naming the parameter and what
is allowed) and at `ros2 param set` (the reason comes back to the caller). Read-only
parameters shape the node's graph and can only be given at start. Types are checked
here too, not by rclpy, whose refusal ("Wrong parameter type, expected '2' got '4'")
names neither the parameter nor the types: parameters are declared with dynamic
typing and a value of another type than the default's is refused by name.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from robot_interfaces.qos import RECORD_HISTORY_DEPTH
from rm_driver.backend import TelemetryRates

SDK_RATES = (1, 5, 10, 20, 50)  # the freq= values the SDK's sub_* calls accept
_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')

Check = Callable[[Any], Optional[str]]

KINDS = {bool: 'a boolean', int: 'an integer', float: 'a floating-point number (e.g. 1.0)',
         str: 'a string'}
# Foxy (the SDK's Python 3.8) has no dynamic typing: rclpy's own type check stays there.
DYNAMIC_TYPING = 'dynamic_typing' in ParameterDescriptor.get_fields_and_field_types()


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    check: Check
    read_only: bool = False
    constraints: str = ''
    float_range: Optional[Tuple[float, float]] = None
    int_range: Optional[Tuple[int, int]] = None

    def descriptor(self) -> ParameterDescriptor:
        descriptor = ParameterDescriptor(description=self.description, read_only=self.read_only,
                                         additional_constraints=self.constraints)
        if DYNAMIC_TYPING:
            descriptor.dynamic_typing = True  # the type is checked by validate()
            descriptor.type = Parameter.Type.from_parameter_value(self.default).value
        if self.float_range is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=self.float_range[0], to_value=self.float_range[1], step=0.0)]
        if self.int_range is not None:
            descriptor.integer_range = [IntegerRange(
                from_value=self.int_range[0], to_value=self.int_range[1], step=0)]
        return descriptor


def _one_of(*allowed: str) -> Check:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def _rate(value: int) -> Optional[str]:
    if value in SDK_RATES:
        return None
    return f"must be an SDK rate: one of {', '.join(map(str, SDK_RATES))} Hz"


def _between(low: float, high: float, unit: str) -> Check:
    def check(value: float) -> Optional[str]:
        if isinstance(value, float) and not math.isfinite(value):
            return f'must be a finite number in [{low:g}, {high:g}] {unit}'.strip()
        return None if low <= value <= high else f'must be in [{low:g}, {high:g}] {unit}'.strip()
    return check


def _name(optional: bool) -> Check:
    def check(value: str) -> Optional[str]:
        if (optional and value == '') or _NAME.match(value):
            return None
        empty = 'empty or ' if optional else ''
        return f'must be {empty}1-64 characters of letters, digits, "_", "-" or "."'
    return check


def _frame(value: str) -> Optional[str]:
    if value and not value.startswith('/') and not re.search(r'\s', value):
        return None
    return 'must be a non-empty frame id without spaces or a leading "/"'


def sdk_command(value: str) -> List[str]:
    """sdk.python as the argv prefix that starts the SDK's Python: empty means
    $RM_SDK_PYTHON (set by the robot Docker image and scripts/env.sh), else this Python."""
    value = value.strip() or os.environ.get('RM_SDK_PYTHON', '').strip()
    return shlex.split(value) if value else [sys.executable]


def _command(value: str) -> Optional[str]:
    if not value.strip():
        return None   # resolved when the SDK process starts, which names what failed
    try:
        words = sdk_command(value)
    except ValueError as error:
        return f'is not a command line: {error}'
    if shutil.which(words[0]) is None:
        return f'{words[0]!r} is not an executable file or a command on PATH'
    return None


def _text(value: str) -> Optional[str]:
    return None if len(value) <= 64 else 'must be at most 64 characters'


_RATE = dict(check=_rate,
             constraints=f"one of {', '.join(map(str, SDK_RATES))} (the SDK push rates)",
             int_range=(SDK_RATES[0], SDK_RATES[-1]))

SPECS: List[ParamSpec] = [
    ParamSpec('backend', 'sim', 'sim (built-in kinematic simulator) or sdk (robomaster SDK)',
              _one_of('sim', 'sdk'), read_only=True, constraints='sim or sdk'),
    ParamSpec('conn_type', 'sta', 'sdk connection: sta (lab Wi-Fi), ap (robot hotspot), '
              'rndis (USB)', _one_of('sta', 'ap', 'rndis'), read_only=True,
              constraints='sta, ap or rndis'),
    ParamSpec('robot_serial', '', 'sdk: the robot to connect to, empty = the one found; '
              'sim: empty = SIM-<namespace>', _name(optional=True), read_only=True),
    ParamSpec('model_type', 'EP01', 'RobotStatus.model_type (EP01, GO1, ...)', _name(False)),
    ParamSpec('history_depth', RECORD_HISTORY_DEPTH, 'status/event/command_result kept for '
              'late-joining subscribers (KEEP_LAST depth; the logger\'s default too)',
              _between(1, 100000, ''), read_only=True, int_range=(1, 100000)),
    ParamSpec('odom_rate', 20, 'odom publish rate, Hz', **_RATE),
    ParamSpec('imu_rate', 20, 'imu publish rate, Hz', **_RATE),
    ParamSpec('wheel_speeds_rate', 10, 'wheel_speeds publish rate, Hz', **_RATE),
    ParamSpec('battery_rate', 1, 'battery publish rate, Hz', **_RATE),
    ParamSpec('cmd_vel_timeout', 0.5, 's without cmd_vel after which the chassis is stopped',
              _between(0.05, 10.0, 's'), float_range=(0.05, 10.0)),
    ParamSpec('battery_low_threshold', 20.0, 'percent below which one BatteryLow event is sent',
              _between(0.0, 100.0, '%'), float_range=(0.0, 100.0)),
    ParamSpec('odom_frame', 'odom', 'frame_id of odom', _frame),
    ParamSpec('base_frame', 'base_link', 'child_frame_id of odom, frame of wheel_speeds', _frame),
    ParamSpec('imu_frame', 'imu_link', 'frame_id of imu', _frame),
    ParamSpec('sdk.link_timeout', 3.0, 's of silence from the robot that means the link is '
              'lost', _between(0.5, 60.0, 's'), float_range=(0.5, 60.0)),
    ParamSpec('sdk.python', '', 'the command that starts a Python with the robomaster SDK '
              '(shell words, e.g. /opt/robomaster-sdk/bin/python); empty = $RM_SDK_PYTHON, '
              'else the driver\'s own Python', _command, read_only=True,
              constraints='a command whose Python (3.6-3.8) imports robomaster'),
    ParamSpec('sdk.reconnect_initial_delay', 1.0, 's before the first reconnect attempt '
              '(doubles each failure)', _between(0.1, 60.0, 's'), read_only=True,
              float_range=(0.1, 60.0)),
    ParamSpec('sdk.reconnect_max_delay', 30.0, 'longest wait between reconnect attempts, s',
              _between(0.1, 600.0, 's'), read_only=True, float_range=(0.1, 600.0)),
    ParamSpec('sim.battery_initial_percent', 100.0, 'sim battery charge at start; setting it '
              'later sets the charge now', _between(0.0, 100.0, '%'), float_range=(0.0, 100.0)),
    ParamSpec('sim.battery_drain_rate', 0.01, 'sim battery drain, percent per second',
              _between(0.0, 100.0, '%/s'), float_range=(0.0, 100.0)),
    ParamSpec('sim.ip_address', '', 'RobotStatus.ip_address reported by the sim', _text,
              read_only=True),
]
SPEC_BY_NAME: Dict[str, ParamSpec] = {spec.name: spec for spec in SPECS}


def validate(name: str, value: Any) -> Optional[str]:
    """Return the refusal for one value (naming the parameter), or None if it is valid."""
    spec = SPEC_BY_NAME.get(name)
    if spec is None:
        return None
    if type(value) is not type(spec.default):  # bool is an int subclass: exact types
        return f'{name} must be {KINDS[type(spec.default)]}, got {value!r}'
    reason = spec.check(value)
    return None if reason is None else f'{name} = {value!r}: {reason}'


@dataclass
class DriverParameters:
    """The values in force, read after declaration and after each accepted change."""

    values: Dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def rates(self) -> TelemetryRates:
        return TelemetryRates(self['odom_rate'], self['imu_rate'], self['wheel_speeds_rate'],
                              self['battery_rate'])


class ParameterError(RuntimeError):
    """A start-time value was refused; str() is the one-line explanation."""


def declare_parameters(node: Node,
                       on_change: Callable[[List[Parameter]], None]) -> DriverParameters:
    """Declare every parameter with its descriptor. Start values are validated by the
    same callback that guards later changes; on_change hears about accepted changes."""
    declared = {'done': False}

    def refuse(parameters: List[Parameter], reason: str) -> SetParametersResult:
        if DYNAMIC_TYPING and declared['done']:
            # rclpy has already retyped the stored descriptors after the offered values
            # (dynamic typing): put the declared types back, so `ros2 param describe`
            # stays true after a refused value
            for parameter in parameters:
                spec = SPEC_BY_NAME.get(parameter.name)
                if spec is not None:
                    node.describe_parameter(spec.name).type = \
                        Parameter.Type.from_parameter_value(spec.default).value
        return SetParametersResult(successful=False, reason=reason)

    def on_set(parameters: List[Parameter]) -> SetParametersResult:
        values = {p.name: p.value for p in parameters}
        for name, value in values.items():
            reason = validate(name, value)
            if reason is not None:
                return refuse(parameters, reason)
        reason = _check_reconnect_delays(node, values)
        if reason is not None:
            return refuse(parameters, reason)
        if declared['done']:
            on_change(parameters)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    for spec in SPECS:
        try:
            node.declare_parameter(spec.name, spec.default, spec.descriptor())
        except InvalidParameterValueException as error:
            raise ParameterError(_reason_of(error, spec)) from None
        except InvalidParameterTypeException:
            raise ParameterError(f'{spec.name}: expected a {type(spec.default).__name__} like '
                                 f'{spec.default!r}') from None
    declared['done'] = True
    return DriverParameters({spec.name: node.get_parameter(spec.name).value for spec in SPECS})


def _reason_of(error: Exception, spec: ParamSpec) -> str:
    text = str(error)
    # rclpy words it "Invalid parameter value (v) for parameter. Reason: <reason>: <name>";
    # keep the reason, which already names the parameter.
    suffix = f': {spec.name}'
    if text.endswith(suffix):
        text = text[:-len(suffix)]
    text = text.split('Reason: ', 1)[-1]
    return text if spec.name in text else f'{spec.name}: {text}'


def _check_reconnect_delays(node: Node, values: Dict[str, Any]) -> Optional[str]:
    names = ('sdk.reconnect_initial_delay', 'sdk.reconnect_max_delay')
    if not any(name in values for name in names):
        return None
    current = []
    for name in names:
        if name in values:
            current.append(values[name])
        elif node.has_parameter(name):
            current.append(node.get_parameter(name).value)
        else:
            return None  # still declaring: checked when the second one arrives
    if current[1] < current[0]:
        return (f'sdk.reconnect_max_delay = {current[1]!r}: must be at least '
                f'sdk.reconnect_initial_delay ({current[0]!r})')
    return None
