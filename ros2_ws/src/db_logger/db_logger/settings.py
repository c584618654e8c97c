"""The logger's parameters: declared with descriptors, read and checked once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.node import Node
from robot_interfaces.qos import RECORD_HISTORY_DEPTH

from db_logger.connection import DatabaseConfig, password_from
from db_logger.telemetry import RECORD_MODES, TelemetrySettings, TELEMETRY_STREAMS

_STRING, _INT, _DOUBLE = (ParameterType.PARAMETER_STRING, ParameterType.PARAMETER_INTEGER,
                          ParameterType.PARAMETER_DOUBLE)

# name: (default, type, description, range); all read-only: they take effect at start
PARAMETERS = {
    'db.host': ('127.0.0.1', _STRING, 'MySQL server host', None),
    'db.port': (7858, _INT, 'MySQL server port', (1, 65535)),
    'db.name': ('robot_capstone', _STRING, 'database name', None),
    'db.user': ('robot_user', _STRING, 'database user (needs SELECT, INSERT, UPDATE, DELETE)',
                None),
    'db.password_file': ('', _STRING, 'file holding the password; empty: $ROBOT_DB_PASSWORD',
                         None),
    'batch_size': (500, _INT, 'rows per transaction at most', (1, 10000)),
    'flush_interval': (0.1, _DOUBLE, 's from one commit to the next unless a batch is '
                       'full: the longest a message waits before its commit starts',
                       (0.005, 5.0)),
    'journal_dir': ('', _STRING, 'durable journal directory; empty: $ROS_HOME/db_logger', None),
    'discovery_period': (1.0, _DOUBLE, 's between graph scans for robot topics', (0.1, 60.0)),
    'history_depth': (RECORD_HISTORY_DEPTH, _INT, 'KEEP_LAST depth of status/event/'
                      'command_result; the drivers\' default too: change both alike',
                      (1, 100000)),
    'session_start_wait': (5.0, _DOUBLE, 's a /session/start for a robot with no committed '
                           'status waits for its first one (discovery_period, delivery, '
                           'commit) before refusing it as not reported', (0.0, 60.0)),
    'telemetry.record': ('session', _STRING, 'odom, imu, wheel_speeds, battery and every '
                         'status into the *Samples tables: all, session (only inside an open '
                         'session of that robot) or off', None),
    **{f'telemetry.max_rate.{stream}': (0.0, _DOUBLE, f'Hz of {stream} samples stored at most '
                                        '(evenly spaced by stamp); 0: every sample', (0.0, 1000.0))
       for stream in TELEMETRY_STREAMS},
}


@dataclass(frozen=True)
class LoggerSettings:
    db: DatabaseConfig
    batch_size: int
    flush_interval: float
    journal_dir: Path
    discovery_period: float
    history_depth: int
    session_start_wait: float
    telemetry: TelemetrySettings


def _descriptor(name: str, kind: int, description: str, bounds) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(name=name, type=kind, description=description,
                                     read_only=True)
    if name == 'telemetry.record':
        # YAML and `-p` read a bare `off` as the boolean false: accepted, checked in declare()
        descriptor.dynamic_typing = True
    if bounds and kind == _INT:
        descriptor.integer_range = [IntegerRange(from_value=bounds[0], to_value=bounds[1],
                                                 step=1)]
    elif bounds:
        descriptor.floating_point_range = [FloatingPointRange(from_value=bounds[0],
                                                              to_value=bounds[1])]
    return descriptor


def declare(node: Node) -> LoggerSettings:
    """Declare every parameter and return the checked settings (ValueError names the field)."""
    for name, (default, kind, description, bounds) in PARAMETERS.items():
        node.declare_parameter(name, default, _descriptor(name, kind, description, bounds))
    value = {name: node.get_parameter(name).value for name in PARAMETERS}
    for name in ('db.host', 'db.name', 'db.user'):
        if not value[name]:
            raise ValueError(f'{name} is empty')
    if value['telemetry.record'] is False:
        value['telemetry.record'] = 'off'
    if value['telemetry.record'] not in RECORD_MODES:
        raise ValueError(f"telemetry.record is {value['telemetry.record']!r}; "
                         f"one of {', '.join(RECORD_MODES)}")
    journal_dir = value['journal_dir'] or str(_ros_home() / 'db_logger')
    return LoggerSettings(
        db=DatabaseConfig(value['db.host'], value['db.port'], value['db.name'],
                          value['db.user'], password_from(value['db.password_file'])),
        batch_size=value['batch_size'], flush_interval=value['flush_interval'],
        journal_dir=Path(journal_dir).expanduser(),
        discovery_period=value['discovery_period'], history_depth=value['history_depth'],
        session_start_wait=value['session_start_wait'],
        telemetry=TelemetrySettings(value['telemetry.record'], {
            stream: value[f'telemetry.max_rate.{stream}'] for stream in TELEMETRY_STREAMS}))


def _ros_home() -> Path:
    return Path(os.environ.get('ROS_HOME', Path.home() / '.ros'))
