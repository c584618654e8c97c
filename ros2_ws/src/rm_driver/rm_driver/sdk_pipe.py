"""The line protocol between the driver (rclpy's Python) and its SDK process.

The robomaster SDK has wheels for CPython 3.6-3.8 only, which no supported ROS 2 runs
on, so the sdk backend runs it in a process of its own (sdk_process.py starts
sdk_worker.py on the SDK's Python). They speak one JSON object per line: the driver
sends {"op": ...} on the process's stdin, the process answers {"ev": ...} on its stdout.
Plain Python 3.6+: both interpreters import this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, astuple
from typing import Any, Dict

from rm_driver.backend import ImuSample, OdomSample, WheelSample

# driver -> SDK process
OP_DRIVE = 'drive'              # v: [vx, vy, wz]
OP_MOVE = 'move'                # id, request: MoveRequest fields
OP_CANCEL = 'cancel'
OP_SET_MODE = 'set_mode'        # id, mode
OP_SET_RATES = 'set_rates'      # rates: TelemetryRates fields
OP_SET_LINK_TIMEOUT = 'set_link_timeout'   # seconds
OP_CLOSE = 'close'
# SDK process -> driver
EV_READY = 'ready'              # the SDK imported; version
EV_MISSING = 'missing'          # the SDK cannot be imported; detail is the one-line fix
EV_LOG = 'log'                  # text: a warning from the adapter
EV_CONNECTED = 'connected'      # serial, ip, firmware
EV_LINK_LOST = 'link_lost'      # detail
EV_ODOM = 'odom'                # v: OdomSample fields in order
EV_IMU = 'imu'                  # v: ImuSample fields in order
EV_WHEELS = 'wheels'            # v: WheelSample fields in order
EV_BATTERY = 'battery'          # percent
EV_COLLISION = 'collision'      # armor_id, hit_type
EV_FAULT = 'fault'              # detail, latched
EV_FAULT_CLEARED = 'fault_cleared'
EV_MOVE_DONE = 'move_done'      # id, outcome, message
EV_MODE_RESULT = 'mode_result'  # id, error (null on success)

SAMPLES = {EV_ODOM: OdomSample, EV_IMU: ImuSample, EV_WHEELS: WheelSample}


def line(message: Dict[str, Any]) -> str:
    # NaN stays NaN (a battery of unknown charge): Python's json reads what it writes.
    return json.dumps(message, separators=(',', ':')) + '\n'


def parse(text: str) -> Dict[str, Any]:
    message = json.loads(text)
    if not isinstance(message, dict):
        raise ValueError(f'not a JSON object: {text[:80]!r}')
    return message


def values(record: Any) -> list:
    """A sample or Velocity as its fields in order (the receiver rebuilds it with *values)."""
    return list(astuple(record))


def sample_from(kind: str, fields: list) -> Any:
    return SAMPLES[kind](*fields)


def fields(record: Any) -> Dict[str, Any]:
    """A MoveRequest or TelemetryRates by name (the receiver rebuilds it with **fields)."""
    return asdict(record)
