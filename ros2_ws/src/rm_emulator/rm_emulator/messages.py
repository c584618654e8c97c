"""Command keys and payload layouts of the EP's v1 protocol, as the SDK (0.1.1.68)
encodes requests and decodes replies and pushes (protocol.py, dds.py, chassis.py,
battery.py, armor.py). Units are the SDK's: m, m/s, deg, deg/s, g, rpm, percent."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, Tuple

from rm_emulator.framing import host_byte

# Module addresses (host byte) the SDK talks to or expects answers from.
HOST_SDK = host_byte(9, 6)        # the SDK client itself
HOST_SYSTEM = host_byte(9, 0)     # robot: sdk mode, robot mode, subscriptions
HOST_CHASSIS = host_byte(3, 6)

# (cmd set, cmd id) of everything the emulator understands.
GET_VERSION = (0x00, 0x01)
GET_PRODUCT_VERSION = (0x00, 0x4F)
GET_SN = (0x00, 0x51)
ARMOR_HIT_EVENT = (0x3F, 0x02)
SET_ROBOT_MODE = (0x3F, 0x46)
GET_ROBOT_MODE = (0x3F, 0x47)
SET_SDK_MODE = (0x3F, 0xD1)
SET_SDK_CONNECTION = (0x3F, 0xD4)
SDK_HEARTBEAT = (0x3F, 0xD5)
POSITION_MOVE = (0x3F, 0x25)
POSITION_PUSH = (0x3F, 0x2A)
CHASSIS_SPEED_MODE = (0x3F, 0x21)
VISION_DETECT_ENABLE = (0x0A, 0xA3)
SUB_ADD_NODE = (0x48, 0x01)
SUB_NODE_RESET = (0x48, 0x02)
SUB_ADD_MSG = (0x48, 0x03)
SUB_DEL_MSG = (0x48, 0x04)
SUB_PUSH = (0x48, 0x08)

COMMAND_NAMES = {
    GET_VERSION: 'get_version', GET_PRODUCT_VERSION: 'get_product_version',
    GET_SN: 'get_sn', SET_ROBOT_MODE: 'set_robot_mode', GET_ROBOT_MODE: 'get_robot_mode',
    SET_SDK_MODE: 'set_sdk_mode', SDK_HEARTBEAT: 'heartbeat', POSITION_MOVE: 'move',
    CHASSIS_SPEED_MODE: 'drive_speed', VISION_DETECT_ENABLE: 'vision_detect_enable',
    SUB_ADD_NODE: 'sub_add_node', SUB_NODE_RESET: 'sub_node_reset',
    SUB_ADD_MSG: 'subscribe', SUB_DEL_MSG: 'unsubscribe',
}

ROBOT_MODES = {0: 'free', 1: 'gimbal_lead', 2: 'chassis_lead'}

# Data subscriptions: uid (dds.py SUB_UID_MAP) -> stream name.
STREAM_UIDS: Dict[int, str] = {
    0x000200096862229F: 'battery',
    0x0002000949A4009C: 'velocity',
    0x00020009C14CB7C5: 'esc',
    0x000200096B986306: 'attitude',
    0x00020009A7985B8D: 'imu',
    0x00020009EEB7CECE: 'position',
}

RETCODE_OK = 0
RETCODE_UNKNOWN_UID = 0x23      # any non-zero code makes the SDK's subscribe return False

# PositionMove accept byte (action.py ActionDispatcher._on_recv).
MOVE_STARTED, MOVE_REJECTED, MOVE_SUCCEEDED = 0, 1, 2
# PositionPush action_state byte (action.py Action._update_action_state).
ACTION_RUNNING, ACTION_SUCCEEDED, ACTION_FAILED, ACTION_STARTED = 0, 1, 2, 3
# PositionMove frequency code (buf[1] >> 2; the SDK always sends 2) -> progress pushes/s.
MOVE_PUSH_HZ = {0: 1.0, 1: 5.0, 2: 10.0, 3: 20.0, 4: 50.0}


class PayloadError(ValueError):
    """A request payload too short or malformed for its command."""


def _unpack(fmt: str, payload: bytes, offset: int, what: str) -> tuple:
    try:
        return struct.unpack_from(fmt, payload, offset)
    except struct.error:
        raise PayloadError(f'{what}: payload of {len(payload)} bytes is too short') from None


# Requests (SDK -> robot).

@dataclass(frozen=True)
class ConnectionRequest:
    host: int
    connection: int          # 0 ap, 1 sta, 2 rndis
    protocol: int            # 0 udp, 1 tcp
    ip: str
    port: int


def parse_connection_request(payload: bytes) -> ConnectionRequest:
    control, host, connection, proto, a, b, c, d, port = _unpack(
        '<BBBB4BH', payload, 0, 'SetSdkConnection')
    return ConnectionRequest(host, connection, proto, f'{a}.{b}.{c}.{d}', port)


@dataclass(frozen=True)
class MoveRequest:
    action_id: int
    push_hz: float
    x: float                 # m, forward
    y: float                 # m, right
    z: float                 # deg, clockwise seen from above (z down)
    xy_speed: float          # m/s
    z_speed: float           # deg/s


def parse_move(payload: bytes) -> MoveRequest:
    action_id, ctrl, _mode, _axis, x_cm, y_cm, z_decideg, vel, omega = _unpack(
        '<BBBBhhhBh', payload, 0, 'PositionMove')
    # chassis.py: vel = int(160 * xy_speed - 70), omega = int(z_speed * 10).
    return MoveRequest(action_id, MOVE_PUSH_HZ.get(ctrl >> 2, 10.0), x_cm / 100.0,
                       y_cm / 100.0, z_decideg / 10.0, (vel + 70) / 160.0, omega / 10.0)


def parse_speed(payload: bytes) -> Tuple[float, float, float]:
    """ChassisSpeedMode: x, y in m/s (y right), z in deg/s (clockwise)."""
    return _unpack('<fff', payload, 0, 'ChassisSpeedMode')


@dataclass(frozen=True)
class SubscribeRequest:
    node_id: int
    msg_id: int
    sub_mode: int
    uids: Tuple[int, ...]
    freq: int


def parse_subscribe(payload: bytes) -> SubscribeRequest:
    node_id, msg_id, _flags, sub_mode, count = _unpack('<BBBBB', payload, 0, 'AddSubMsg')
    uids = _unpack(f'<{count}Q', payload, 5, 'AddSubMsg uids')
    (freq,) = _unpack('<H', payload, 5 + 8 * count, 'AddSubMsg freq')
    return SubscribeRequest(node_id, msg_id, sub_mode, tuple(uids), freq)


def parse_unsubscribe(payload: bytes) -> Tuple[int, int, int]:
    """DelMsg: (sub_mode, node_id, msg_id)."""
    return _unpack('<BBB', payload, 0, 'DelMsg')


# Replies (robot -> SDK).

def connection_reply(client_ip: str) -> bytes:
    """State 2: accepted, and here is the address to bind the link to (conn.py)."""
    return bytes((RETCODE_OK, 2)) + bytes(int(part) for part in client_ip.split('.'))


def sn_reply(serial: str) -> bytes:
    data = serial.encode('ascii')
    return bytes((RETCODE_OK, len(data), 0)) + data


def product_version_reply(major: int, minor: int, build: int) -> bytes:
    # protocol.py reads '<HBB' at offset 9: build, minor, major -> "AA.BB.CCCC".
    return bytes((RETCODE_OK,)) + bytes(8) + struct.pack('<HBB', build, minor, major)


def module_version_reply() -> bytes:
    return bytes((RETCODE_OK, 1, 0, 0)) + bytes(26)      # ProtoGetVersion wants 30 bytes


def subscribe_reply(retcode: int, request: SubscribeRequest, err_uid: int = 0) -> bytes:
    return struct.pack('<BBBBI', retcode, request.node_id, request.sub_mode,
                       request.msg_id, err_uid & 0xFFFFFFFF)


def move_reply(accept: int) -> bytes:
    return bytes((RETCODE_OK, accept))


# Pushes and events (robot -> SDK).

def position_push(action_id: int, percent: int, state: int, x: float, y: float,
                  z: float) -> bytes:
    return struct.pack('<BBBhhh', action_id, percent, state, round(x * 100),
                       round(y * 100), round(z * 10))


def subscription_push(sub_mode: int, msg_id: int, data: bytes) -> bytes:
    return bytes((sub_mode, msg_id)) + data


def armor_hit_event(armor_id: int, hit_type: int = 0, mic_value: int = 300) -> bytes:
    return bytes((armor_id << 4 | hit_type,)) + struct.pack('<HH', mic_value, 0)
