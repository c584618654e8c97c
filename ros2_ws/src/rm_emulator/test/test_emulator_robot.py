"""The emulator's protocol state machine, kinematics and control requests, driven with
frames and a simulated clock (no sockets, no SDK)."""

import struct

import pytest
from rm_emulator import messages as m
from rm_emulator.control import handle_request
from rm_emulator.framing import Frame, decode, encode, host_byte
from rm_emulator.robot import STRAY_DATAGRAM, EmulatedRobot

SDK = ('192.168.2.23', 10321)
SERIAL = '3JKCK980030E3K'
POSITION_UID = 0x00020009EEB7CECE


class Rig:
    """An EmulatedRobot after a handshake, with a clock the test moves."""

    def __init__(self):
        self.robot = EmulatedRobot(SERIAL)
        self.now = 100.0
        self.seq = 10000
        self.sent = []
        handshake = struct.pack('<BBBB4BH', 0, m.HOST_SDK, 0, 0, 0, 0, 0, 0, SDK[1])
        self.handshake_reply = self.robot.handshake(
            encode(Frame(m.HOST_SDK, m.HOST_SYSTEM, 1, *m.SET_SDK_CONNECTION, handshake,
                         need_ack=2)), ('192.168.2.23', 40000), self.now)

    def request(self, key, payload=b'', need_ack=2, receiver=m.HOST_SYSTEM):
        self.seq += 1
        self.robot.receive(encode(Frame(m.HOST_SDK, receiver, self.seq, *key, payload,
                                        need_ack=need_ack)), SDK, self.now)
        return self.collect()

    def run(self, seconds, step=0.001):
        """Advance the clock, collecting what falls due, like the server loop."""
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            self.collect()

    def collect(self):
        frames = [decode(d) for d in self.robot.due(self.now)]
        self.sent.extend(frames)
        return frames

    def of(self, key):
        return [f for f in self.sent if f.key == key]


def subscribe_payload(msg_id, uid, freq):
    return struct.pack('<BBBBBQH', m.HOST_SDK, msg_id, 0, 0, 1, uid, freq)


def move_payload(action_id, x=0.0, y=0.0, z=0.0, xy_speed=0.5, z_speed=30.0):
    return struct.pack('<BBBBhhhBh', action_id, 2 << 2, 0, 0, round(x * 100),
                       round(y * 100), round(z * 10), int(160 * xy_speed - 70),
                       int(z_speed * 10))


def test_handshake_tells_the_sdk_its_address_and_acks_keep_the_sequence_id():
    rig = Rig()
    reply = decode(rig.handshake_reply)
    assert reply.is_ack and reply.payload == bytes([0, 2, 192, 168, 2, 23])
    assert rig.robot.peer == SDK
    (ack,) = rig.request(m.GET_SN, b'\x01', receiver=host_byte(8, 1))
    assert (ack.is_ack, ack.seq_id, ack.sender, ack.receiver) == \
        (True, rig.seq, host_byte(8, 1), m.HOST_SDK)
    assert ack.payload[3:3 + ack.payload[1]].decode() == SERIAL
    (version,) = rig.request(m.GET_PRODUCT_VERSION, bytes(9))
    assert struct.unpack_from('<HBB', version.payload, 9) == (1200, 1, 1)


def test_speed_mode_is_not_acked_and_moves_the_chassis_in_the_sdk_frame():
    rig = Rig()
    assert rig.request(m.CHASSIS_SPEED_MODE, struct.pack('<fff', 0.5, 0.0, 90.0),
                       need_ack=0) == []
    rig.run(1.0, step=0.01)
    x, y, yaw = rig.robot.chassis.pose
    assert yaw == pytest.approx(90.0, abs=0.5)            # clockwise positive (z down)
    assert x > 0.2 and y > 0.2                            # an arc curving to the right
    state = rig.robot.state(rig.now)
    assert state['last_drive_speed'] == [0.5, 0.0, 90.0]
    assert state['counts']['drive_speed'] == 1
    rig.request(m.CHASSIS_SPEED_MODE, struct.pack('<fff', 1.0, 0.0, 0.0), need_ack=0)
    speeds = struct.unpack_from('<hhhh', rig.robot.chassis.esc_data())
    assert speeds[0] > 0 and speeds[1] < 0 and speeds[2] < 0 and speeds[3] > 0


def test_move_acks_started_reports_progress_and_ends_at_the_target():
    rig = Rig()
    (ack,) = rig.request(m.POSITION_MOVE, move_payload(5, x=1.0), receiver=m.HOST_CHASSIS)
    assert ack.payload == bytes([0, m.MOVE_STARTED])
    rig.run(2.5)
    pushes = [struct.unpack('<BBBhhh', f.payload) for f in rig.of(m.POSITION_PUSH)]
    progress, final = pushes[:-1], pushes[-1]
    assert 17 <= len(progress) <= 21                      # 10 Hz over the 2 s move
    assert all(p[0] == 5 and p[2] == m.ACTION_RUNNING and p[1] < 100 for p in progress)
    assert [p[1] for p in progress] == sorted(p[1] for p in progress)
    assert final == (5, 100, m.ACTION_SUCCEEDED, 100, 0, 0)
    assert rig.robot.chassis.pose == pytest.approx((1.0, 0.0, 0.0), abs=1e-9)
    assert rig.robot.state(rig.now)['last_move']['state'] == 'succeeded'


def test_move_faults_busy_dropped_and_delayed_final_push():
    rig = Rig()
    rig.robot.faults.set('busy', {'on': True})
    (ack,) = rig.request(m.POSITION_MOVE, move_payload(1, x=0.5), receiver=m.HOST_CHASSIS)
    assert ack.payload == bytes([0, m.MOVE_REJECTED])
    assert rig.robot.chassis.pose == (0.0, 0.0, 0.0)
    rig.robot.faults.set('busy', {'on': False})
    rig.robot.faults.set('final_push', {'mode': 'drop'})
    rig.request(m.POSITION_MOVE, move_payload(2, x=0.5), receiver=m.HOST_CHASSIS)
    rig.run(2.0)
    assert [f.payload[1] for f in rig.of(m.POSITION_PUSH) if f.payload[1] == 100] == []
    assert rig.robot.chassis.pose[0] == pytest.approx(0.5)
    rig.robot.faults.set('final_push', {'mode': 'delay', 'delay': 1.5})
    rig.request(m.POSITION_MOVE, move_payload(3, x=0.5), receiver=m.HOST_CHASSIS)
    rig.run(2.0)                                          # move ends after 1 s
    assert not [f for f in rig.of(m.POSITION_PUSH) if f.payload[:2] == b'\x03\x64']
    rig.run(0.6)
    assert [f for f in rig.of(m.POSITION_PUSH) if f.payload[:2] == b'\x03\x64']
    rig.request(m.POSITION_MOVE, move_payload(4, x=0.5), receiver=m.HOST_CHASSIS)
    rig.run(1.2)                                          # the switch reset: final on time
    assert [f for f in rig.of(m.POSITION_PUSH) if f.payload[:2] == b'\x04\x64']


def test_subscriptions_push_at_their_rate_until_unsubscribed():
    rig = Rig()
    for msg_id, freq in ((21, 5), (22, 50)):
        (ack,) = rig.request(m.SUB_ADD_MSG, subscribe_payload(msg_id, POSITION_UID, freq))
        assert ack.payload[0] == 0 and ack.payload[3] == msg_id
    rig.run(2.0)
    counts = {i: sum(1 for f in rig.of(m.SUB_PUSH) if f.payload[1] == i) for i in (21, 22)}
    assert 9 <= counts[21] <= 11 and 98 <= counts[22] <= 101
    push = next(f for f in rig.of(m.SUB_PUSH) if f.payload[1] == 21)
    assert len(push.payload) == 2 + 12 and push.receiver == m.HOST_SDK
    rig.request(m.SUB_DEL_MSG, bytes([0, m.HOST_SDK, 22]))
    before = len(rig.of(m.SUB_PUSH))
    rig.run(1.0)
    assert {f.payload[1] for f in rig.of(m.SUB_PUSH)[before:]} == {21}
    (ack,) = rig.request(m.SUB_ADD_MSG, subscribe_payload(23, 0x1234, 5))
    assert ack.payload[0] != 0                            # unknown uid refused
    rig.request(m.SUB_NODE_RESET, bytes([m.HOST_SDK]))
    assert rig.robot.subscriptions == {}


def test_first_push_delay_link_down_silent_and_stray_datagram():
    rig = Rig()
    rig.robot.faults.set('first_push_delay', {'delay': 1.0})
    rig.request(m.SUB_ADD_MSG, subscribe_payload(30, POSITION_UID, 10))
    rig.run(0.9)
    assert rig.of(m.SUB_PUSH) == []
    rig.run(0.15)
    assert len(rig.of(m.SUB_PUSH)) == 1
    rig.robot.faults.link_up = False
    assert rig.request(m.GET_SN, b'\x01') == []
    rig.run(1.0)
    assert len(rig.of(m.SUB_PUSH)) == 1
    assert rig.robot.counts['dropped_out'] >= 9 and rig.robot.counts['dropped_in'] == 1
    rig.robot.faults.link_up = True
    rig.robot.faults.set('silent', {'on': True})
    assert rig.request(m.GET_SN, b'\x01') == []
    rig.robot.faults.set('silent', {'on': False})
    rig.robot.stray_datagram(rig.now)
    assert STRAY_DATAGRAM in rig.robot.due(rig.now)


def test_sdk_mode_off_stops_pushes_and_the_chassis():
    rig = Rig()
    rig.request(m.SET_SDK_MODE, b'\x01')
    rig.request(m.SUB_ADD_MSG, subscribe_payload(21, POSITION_UID, 10))
    rig.request(m.CHASSIS_SPEED_MODE, struct.pack('<fff', 0.3, 0.0, 0.0), need_ack=0)
    assert rig.robot.state(rig.now)['sdk_mode'] is True
    assert rig.robot.state(rig.now)['connected'] is True
    rig.request(m.SET_SDK_MODE, b'\x00')
    state = rig.robot.state(rig.now)
    assert state['sdk_mode'] is False and state['subscriptions'] == {}
    assert state['connected'] is False
    assert state['velocity'] == [0.0, 0.0, 0.0]


def test_control_requests_validate_and_name_the_field():
    robot = EmulatedRobot(SERIAL)
    assert handle_request(robot, {'cmd': 'battery', 'percent': 42}, 0.0) == {'ok': True}
    assert robot.state(0.0)['battery'] == 42
    for request, words in (({'cmd': 'battery', 'percent': 142}, 'percent 142'),
                           ({'cmd': 'link', 'up': 'no'}, "up 'no'"),
                           ({'cmd': 'hit', 'armor_id': 9}, 'armor_id 9'),
                           ({'cmd': 'fault', 'name': 'gremlins'}, "'gremlins'"),
                           ({'cmd': 'fault', 'name': 'final_push', 'mode': 'late'}, "'late'"),
                           ({'cmd': 'jump'}, "cmd 'jump'"), ([1], 'not a JSON object')):
        reply = handle_request(robot, request, 0.0)
        assert reply['ok'] is False and words in reply['error'], reply
