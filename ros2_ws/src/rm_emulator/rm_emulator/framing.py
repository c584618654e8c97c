"""The robomaster SDK's v1 binary framing: one frame per datagram.

    offset  size  field
    0       1     0x55 (magic)
    1       2     length of the whole frame, 10 bits little endian; bit 10 (0x04 in
                  byte 2) is always set (protocol version)
    3       1     CRC8 of bytes 0-2 (init 0x77)
    4       1     sender host byte   (host type | index << 5)
    5       1     receiver host byte
    6       2     sequence id, little endian
    8       1     attributes: is_ack << 7 | need_ack << 5 (0 none, 1 now, 2 on finish)
    9       1     cmd set
    10      1     cmd id
    11      n     payload
    11+n    2     CRC16 of bytes 0..10+n (init 0x3692), little endian
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = 0x55
HEADER_SIZE = 11
OVERHEAD = HEADER_SIZE + 2
MAX_FRAME_SIZE = 0x3FF                     # the length field has 10 bits
MAX_PAYLOAD_SIZE = MAX_FRAME_SIZE - OVERHEAD
VERSION_BIT = 0x04

NEED_ACK_NO = 0
NEED_ACK_NOW = 1
NEED_ACK_FINISH = 2

_CRC8_INIT = 0x77
_CRC16_INIT = 0x3692


def _crc8_table() -> list:
    # Reflected CRC-8 with polynomial 0x31 (table entry 1 is 0x5e).
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    return table


def _crc16_table() -> list:
    # Reflected CRC-16/CCITT, polynomial 0x1021 (table entry 1 is 0x1189).
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC8 = _crc8_table()
_CRC16 = _crc16_table()


def crc8(data: bytes, crc: int = _CRC8_INIT) -> int:
    for byte in data:
        crc = _CRC8[crc ^ byte]
    return crc


def crc16(data: bytes, crc: int = _CRC16_INIT) -> int:
    for byte in data:
        crc = (crc >> 8) ^ _CRC16[(crc ^ byte) & 0xFF]
    return crc


def host_byte(host: int, index: int) -> int:
    """A module address: host type in the low 5 bits, index in the high 3."""
    if not 0 <= host < 32 or not 0 <= index < 8:
        raise ValueError(f'host {host} must be 0-31 and index {index} 0-7')
    return index << 5 | host


def split_host(byte: int) -> tuple:
    return byte & 0x1F, byte >> 5


class FrameError(ValueError):
    """A datagram that is not one valid frame; the message says which check failed."""


@dataclass(frozen=True)
class Frame:
    sender: int
    receiver: int
    seq_id: int
    cmdset: int
    cmdid: int
    payload: bytes = b''
    is_ack: bool = False
    need_ack: int = NEED_ACK_NO

    @property
    def key(self) -> tuple:
        return self.cmdset, self.cmdid

    def ack(self, payload: bytes) -> 'Frame':
        """The reply to this request: addresses swapped, same command and sequence id."""
        return Frame(self.receiver, self.sender, self.seq_id, self.cmdset, self.cmdid,
                     bytes(payload), is_ack=True, need_ack=NEED_ACK_NO)


def encode(frame: Frame) -> bytes:
    length = OVERHEAD + len(frame.payload)
    if length > MAX_FRAME_SIZE:
        raise FrameError(f'payload of {len(frame.payload)} bytes exceeds '
                         f'{MAX_PAYLOAD_SIZE}, the most a frame holds')
    if not 0 <= frame.seq_id <= 0xFFFF:
        raise FrameError(f'seq_id {frame.seq_id} does not fit 16 bits')
    if not 0 <= frame.need_ack <= 3:
        raise FrameError(f'need_ack {frame.need_ack} does not fit 2 bits')
    head = bytes((MAGIC, length & 0xFF, (length >> 8) & 0x03 | VERSION_BIT))
    attributes = (0x80 if frame.is_ack else 0) | frame.need_ack << 5
    body = (head + bytes((crc8(head),)) + bytes((frame.sender, frame.receiver))
            + struct.pack('<H', frame.seq_id)
            + bytes((attributes, frame.cmdset, frame.cmdid)) + bytes(frame.payload))
    return body + struct.pack('<H', crc16(body))


def decode(data: bytes) -> Frame:
    """One frame from a datagram holding exactly one; FrameError names what is wrong."""
    data = bytes(data)
    if len(data) < OVERHEAD:
        raise FrameError(f'datagram of {len(data)} bytes is shorter than a frame '
                         f'({OVERHEAD} bytes)')
    if data[0] != MAGIC:
        raise FrameError(f'magic byte is 0x{data[0]:02x}, expected 0x{MAGIC:02x}')
    if crc8(data[:3]) != data[3]:
        raise FrameError(f'header CRC8 is 0x{data[3]:02x}, expected 0x{crc8(data[:3]):02x}')
    length = (data[2] & 0x03) << 8 | data[1]
    if length != len(data):
        raise FrameError(f'length field says {length} bytes, datagram has {len(data)}')
    (tail,) = struct.unpack_from('<H', data, length - 2)
    if crc16(data[:length - 2]) != tail:
        raise FrameError(f'CRC16 is 0x{tail:04x}, expected 0x{crc16(data[:length - 2]):04x}')
    (seq_id,) = struct.unpack_from('<H', data, 6)
    attributes = data[8]
    return Frame(sender=data[4], receiver=data[5], seq_id=seq_id, cmdset=data[9],
                 cmdid=data[10], payload=data[HEADER_SIZE:length - 2],
                 is_ack=bool(attributes & 0x80), need_ack=(attributes >> 5) & 0x03)


class SeqCounter:
    """Sequence ids for frames the robot originates (pushes, events)."""

    def __init__(self, first: int = 1) -> None:
        self._next = first

    def next(self) -> int:
        value = self._next
        self._next = value + 1 if value < 0xFFFF else 1
        return value
