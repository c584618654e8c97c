"""The EP's side of the SDK protocol as a plain state machine, without sockets or a
clock of its own: the caller feeds datagrams with the time and collects what is due.

Handshake (UDP 30030) -> link (UDP 20020): requests are acked at once; subscriptions
push at their rate; a PositionMove is acked (started or rejected), reports progress
and ends with a final push; armor hits are events."""

from __future__ import annotations

import heapq
import itertools
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from rm_emulator import messages as m
from rm_emulator.faults import Faults
from rm_emulator.framing import Frame, FrameError, SeqCounter, decode, encode, host_byte
from rm_emulator.kinematics import EmulatedChassis

FIRMWARE_VERSION = (1, 1, 1200)      # reads "01.01.1200"
LINK_TIMEOUT = 3.0                   # s without a datagram before the SDK counts as gone
FIRST_PUSH_AFTER = 0.01              # s between a subscription's ack and its first push
STRAY_DATAGRAM = b'\x00stray\x00'    # not a frame: no 0x55 magic
HOST_ARMOR = host_byte(24, 1)

Address = Tuple[str, int]
log = logging.getLogger('rm_emulator')


@dataclass
class Subscription:
    name: str
    msg_id: int
    node_id: int
    sub_mode: int
    freq: int
    next_at: float


@dataclass
class RunningMove:
    action_id: int
    period: float
    next_push_at: float
    sender: int
    receiver: int


class EmulatedRobot:
    """Protocol state, chassis and counters of one emulated EP."""

    def __init__(self, serial: str, faults: Optional[Faults] = None) -> None:
        self.serial = serial
        self.faults = faults or Faults()
        self.chassis = EmulatedChassis()
        self.peer: Optional[Address] = None
        self.sdk_mode = False
        self.robot_mode = 0
        self.subscriptions: Dict[int, Subscription] = {}
        self.last_drive_speed: Optional[List[float]] = None
        self.last_move: Optional[Dict[str, Any]] = None
        self.counts: Dict[str, Any] = {
            'handshakes': 0, 'heartbeats': 0, 'drive_speed': 0, 'move': 0,
            'move_rejected': 0, 'progress_pushes': 0, 'final_pushes': 0, 'hits': 0,
            'pushes': {}, 'requests': {}, 'bad_frames': 0, 'dropped_in': 0,
            'dropped_out': 0, 'ignored': 0, 'stray_datagrams': 0}
        self._move: Optional[RunningMove] = None
        self._outbox: List[Tuple[float, int, str, bytes]] = []
        self._order = itertools.count()
        self._seq = SeqCounter()
        self._now: Optional[float] = None
        self._last_rx: Optional[float] = None
        self._last_imu: Dict[int, float] = {}
        self._was_connected = False

    # Input.

    def handshake(self, data: bytes, source: Address, now: float) -> Optional[bytes]:
        """A SetSdkConnection datagram on 30030 -> the reply datagram, or None."""
        if not self._accept_input():
            return None
        try:
            frame = decode(data)
            if frame.key != m.SET_SDK_CONNECTION:
                raise FrameError(f'cmd {frame.cmdset:#04x}/{frame.cmdid:#04x} is not '
                                 'SetSdkConnection')
            request = m.parse_connection_request(frame.payload)
        except ValueError as error:
            self.counts['bad_frames'] += 1
            log.warning('handshake from %s:%d refused: %s', *source, error)
            return None
        self._advance(now)
        self.counts['handshakes'] += 1
        self.peer = (source[0], request.port)
        self._last_rx = now
        log.info('handshake from %s:%d: link to %s:%d (connection type %d)',
                 source[0], source[1], source[0], request.port, request.connection)
        return encode(frame.ack(m.connection_reply(source[0])))

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """A datagram on the link port (20020); replies join the outbox."""
        if not self._accept_input():
            return
        try:
            frame = decode(data)
        except FrameError as error:
            self.counts['bad_frames'] += 1
            log.warning('bad frame from %s:%d: %s', *source, error)
            return
        self._advance(now)
        if self.peer != source:
            log.info('link peer is now %s:%d', *source)
        self.peer = source
        self._last_rx = now
        if frame.is_ack:
            return
        name = m.COMMAND_NAMES.get(frame.key, f'{frame.cmdset:#04x}/{frame.cmdid:#04x}')
        requests = self.counts['requests']
        requests[name] = requests.get(name, 0) + 1
        try:
            reply = self._handle(frame, now)
        except m.PayloadError as error:
            self.counts['bad_frames'] += 1
            log.warning('%s from %s:%d: %s', name, *source, error)
            return
        if reply is not None and frame.need_ack != 0:
            self._send(now, 'ack', encode(frame.ack(reply)))

    def _accept_input(self) -> bool:
        if not self.faults.link_up:
            self.counts['dropped_in'] += 1
            return False
        if self.faults.silent:
            self.counts['ignored'] += 1
            return False
        return True

    def _handle(self, frame: Frame, now: float) -> Optional[bytes]:
        key, payload = frame.key, frame.payload
        if key == m.SDK_HEARTBEAT:
            self.counts['heartbeats'] += 1
            return bytes((m.RETCODE_OK,))
        if key == m.CHASSIS_SPEED_MODE:
            x, y, z = m.parse_speed(payload)
            self.counts['drive_speed'] += 1
            self.last_drive_speed = [x, y, z]
            if self._move is not None:
                self._end_move('interrupted')
            self.chassis.drive(x, y, z)
            return None                                  # a push: the SDK waits for nothing
        if key == m.POSITION_MOVE:
            return self._start_move(frame, now)
        if key == m.SUB_ADD_MSG:
            return self._subscribe(m.parse_subscribe(payload), now)
        if key == m.SUB_DEL_MSG:
            _, node_id, msg_id = m.parse_unsubscribe(payload)
            self.subscriptions.pop(msg_id, None)
            return bytes((m.RETCODE_OK,))
        if key == m.SUB_NODE_RESET:
            node_id = payload[0] if payload else None
            for msg_id in [i for i, s in self.subscriptions.items() if s.node_id == node_id]:
                del self.subscriptions[msg_id]
            return bytes((m.RETCODE_OK,))
        if key == m.SUB_ADD_NODE:
            return bytes((m.RETCODE_OK, payload[0] if payload else 0))
        if key == m.SET_SDK_MODE:
            self._set_sdk_mode(bool(payload and payload[0]))
            return bytes((m.RETCODE_OK,))
        if key == m.SET_ROBOT_MODE:
            self.robot_mode = payload[0] if payload and payload[0] in m.ROBOT_MODES else 0
            return bytes((m.RETCODE_OK,))
        if key == m.GET_ROBOT_MODE:
            return bytes((m.RETCODE_OK, self.robot_mode))
        if key == m.GET_SN:
            return m.sn_reply(self.serial)
        if key == m.GET_PRODUCT_VERSION:
            return m.product_version_reply(*FIRMWARE_VERSION)
        if key == m.GET_VERSION:
            return m.module_version_reply()
        # Vision reset and anything else: accept, as the SDK only checks the retcode.
        return bytes(3)

    def _set_sdk_mode(self, enable: bool) -> None:
        self.sdk_mode = enable
        if not enable:
            # Leaving SDK mode: pushes stop and the chassis halts.
            self.subscriptions.clear()
            if self._move is not None:
                self._end_move('interrupted')
            self.chassis.drive(0.0, 0.0, 0.0)
            self._last_rx = None                     # the SDK is leaving: not connected
            log.info('SDK mode off')
        else:
            log.info('SDK mode on')

    def _subscribe(self, request: m.SubscribeRequest, now: float) -> bytes:
        names = [m.STREAM_UIDS.get(uid) for uid in request.uids]
        if not names or None in names or request.freq <= 0:
            bad = next((uid for uid, n in zip(request.uids, names) if n is None), 0)
            log.warning('subscribe msg_id %d refused: uid %#x, freq %d',
                        request.msg_id, bad, request.freq)
            return m.subscribe_reply(m.RETCODE_UNKNOWN_UID, request, bad)
        first = now + (self.faults.first_push_delay or FIRST_PUSH_AFTER)
        self.subscriptions[request.msg_id] = Subscription(
            names[0], request.msg_id, request.node_id, request.sub_mode, request.freq, first)
        return m.subscribe_reply(m.RETCODE_OK, request)

    def _start_move(self, frame: Frame, now: float) -> bytes:
        request = m.parse_move(frame.payload)
        self.counts['move'] += 1
        if self.faults.busy:
            self.counts['move_rejected'] += 1
            self.last_move = {'action_id': request.action_id, 'state': 'rejected'}
            return m.move_reply(m.MOVE_REJECTED)
        if self._move is not None:
            self._end_move('replaced')
        self.chassis.start_move(request)
        self._move = RunningMove(request.action_id, 1.0 / request.push_hz,
                                 now + 1.0 / request.push_hz, frame.receiver, frame.sender)
        self.last_move = {
            'action_id': request.action_id, 'x': request.x, 'y': request.y, 'z': request.z,
            'xy_speed': request.xy_speed, 'z_speed': request.z_speed, 'state': 'running',
            'percent': 0}
        return m.move_reply(m.MOVE_STARTED)

    def _end_move(self, state: str) -> None:
        self._move = None
        self.chassis.finish_move()
        if self.last_move is not None:
            self.last_move['state'] = state

    # Control requests.

    def hit(self, armor_id: int, now: float) -> None:
        if not 1 <= armor_id <= 6:
            raise ValueError(f'armor_id {armor_id!r} must be 1-6')
        self._advance(now)
        self.counts['hits'] += 1
        frame = Frame(HOST_ARMOR, m.HOST_SDK, self._seq.next(), *m.ARMOR_HIT_EVENT,
                      m.armor_hit_event(armor_id))
        self._send(now, 'hit', encode(frame))

    def stray_datagram(self, now: float) -> None:
        self.counts['stray_datagrams'] += 1
        self._send(now, 'stray', STRAY_DATAGRAM)

    def state(self, now: float) -> Dict[str, Any]:
        """The control socket's `state` reply: SDK frame and units."""
        self._advance(now)
        return {
            'pose': list(self.chassis.pose),
            'velocity': list(self.chassis.body_velocity),
            'battery': self.chassis.battery_percent,
            'mode': m.ROBOT_MODES.get(self.robot_mode, str(self.robot_mode)),
            'sdk_mode': self.sdk_mode,
            'connected': self.connected(now),
            'peer': list(self.peer) if self.peer else None,
            'subscriptions': {s.name: s.freq for s in self.subscriptions.values()},
            'move_running': self._move is not None,
            'counts': self.counts,
            'last_drive_speed': self.last_drive_speed,
            'last_move': self.last_move,
            'faults': self.faults.as_dict(),
        }

    # Output.

    def due(self, now: float) -> List[bytes]:
        """Datagrams for the peer whose time has come (none without a peer)."""
        self._advance(now)
        connected = self.connected(now)
        if connected != self._was_connected and self.peer is not None:
            log.info('link to %s:%d %s', *self.peer,
                     'up' if connected else f'quiet for {LINK_TIMEOUT:.0f} s')
        self._was_connected = connected
        for sub in self.subscriptions.values():
            if sub.next_at <= now:
                self._push(sub, now)
                period = 1.0 / sub.freq
                sub.next_at += period
                if sub.next_at <= now:             # late by more than a period: skip ahead
                    sub.next_at = now + period
        move = self._move
        if move is not None and move.next_push_at <= now:
            x, y, z = self.chassis.move_displacement()
            payload = m.position_push(move.action_id, self.chassis.move_percent(),
                                      m.ACTION_RUNNING, x, y, z)
            self.counts['progress_pushes'] += 1
            self._send(now, 'progress', encode(self._move_frame(move, payload)))
            move.next_push_at = max(move.next_push_at + move.period, now)
        ready = []
        while self._outbox and self._outbox[0][0] <= now:
            _, _, kind, data = heapq.heappop(self._outbox)
            if self.peer is None:
                continue
            if not self.faults.link_up:
                self.counts['dropped_out'] += 1
            elif not self.faults.silent:
                ready.append(data)
        return ready

    def next_due(self) -> Optional[float]:
        times = [sub.next_at for sub in self.subscriptions.values()]
        if self._outbox:
            times.append(self._outbox[0][0])
        if self._move is not None and self._now is not None:
            times.append(self._move.next_push_at)
            left = self.chassis.move_time_left()
            if left is not None:
                times.append(self._now + left)
        return min(times) if times else None

    def connected(self, now: float) -> bool:
        return (self.peer is not None and self._last_rx is not None
                and now - self._last_rx < LINK_TIMEOUT)

    def _push(self, sub: Subscription, now: float) -> None:
        if sub.name == 'imu':
            elapsed = now - self._last_imu.get(sub.msg_id, now)
            self._last_imu[sub.msg_id] = now
            data = self.chassis.imu_data(elapsed)
        else:
            data = getattr(self.chassis, f'{sub.name}_data')()
        frame = Frame(m.HOST_SYSTEM, sub.node_id, self._seq.next(), *m.SUB_PUSH,
                      m.subscription_push(sub.sub_mode, sub.msg_id, data))
        pushes = self.counts['pushes']
        if self.faults.link_up and not self.faults.silent and self.peer is not None:
            pushes[sub.name] = pushes.get(sub.name, 0) + 1
        self._send(now, 'push', encode(frame))

    def _move_frame(self, move: RunningMove, payload: bytes) -> Frame:
        return Frame(move.sender, move.receiver, self._seq.next(), *m.POSITION_PUSH, payload)

    def _send(self, at: float, kind: str, data: bytes) -> None:
        heapq.heappush(self._outbox, (at, next(self._order), kind, data))

    def _advance(self, now: float) -> None:
        """Run the chassis up to now; a move reaching its target gets its final push."""
        if self._now is None:
            self._now = now
        completed = self.chassis.advance(now - self._now)
        self._now = max(self._now, now)
        move = self._move
        if completed and move is not None:
            self._move = None
            self.chassis.finish_move()
            request_state = self.last_move or {}
            x, y, z = (request_state.get(k, 0.0) for k in ('x', 'y', 'z'))
            request_state.update(state='succeeded', percent=100)
            delay = self.faults.take_final_push()
            if delay is None:
                log.info('move %d done; final push dropped (fault)', move.action_id)
                return
            payload = m.position_push(move.action_id, 100, m.ACTION_SUCCEEDED, x, y, z)
            self.counts['final_pushes'] += 1
            self._send(now + delay, 'final', encode(self._move_frame(move, payload)))
            log.info('move %d done; final push in %.2f s', move.action_id, delay)
