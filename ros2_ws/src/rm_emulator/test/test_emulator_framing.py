"""The emulator's framing against the robomaster SDK's own encoders and decoders
(protocol.py Msg.pack / decode_msg, algo.py CRCs), run in the SDK's Python."""

import json
import random
import subprocess

import pytest
from emulator_harness import sdk_python
from rm_emulator.framing import (Frame, FrameError, MAX_PAYLOAD_SIZE, crc16, crc8, decode,
                                 encode, host_byte, split_host)

# Runs in the SDK's Python: encode each case with Msg.pack (the proto's own pack_req,
# or a given payload), or decode given frames with decode_msg, or compute CRCs.
SDK_SCRIPT = r'''
import json, sys
from robomaster import algo, protocol
job = json.load(sys.stdin)
out = []
if job['op'] == 'encode':
    for case in job['cases']:
        proto = getattr(protocol, case['cls'])()
        for name, value in case.get('attrs', {}).items():
            setattr(proto, name, value)
        if case.get('payload') is not None:
            payload = bytes.fromhex(case['payload'])
            proto.pack_req = lambda payload=payload: payload
        msg = protocol.Msg(case['sender'], case['receiver'], proto)
        msg._seq_id = case['seq']
        if case.get('ack'):
            msg._is_ack, msg._need_ack = True, 0
        out.append({'frame': bytes(msg.pack()).hex(), 'payload': bytes(proto.pack_req()).hex()})
elif job['op'] == 'decode':
    for frame in job['frames']:
        msg, rest = protocol.decode_msg(bytearray.fromhex(frame))
        out.append({'sender': msg._sender, 'receiver': msg._receiver, 'seq': msg._seq_id,
                    'cmdset': msg._cmdset, 'cmdid': msg._cmdid, 'is_ack': msg._is_ack,
                    'need_ack': msg._need_ack, 'payload': bytes(msg._buf).hex(),
                    'rest': bytes(rest).hex()})
else:
    out = [[algo.crc8_calc(bytes.fromhex(d)), algo.crc16_calc(bytes.fromhex(d))]
           for d in job['data']]
print(json.dumps(out))
'''

SDK_HOST, ROBOT_HOST, CHASSIS_HOST = host_byte(9, 6), host_byte(9, 0), host_byte(3, 6)
MANY_UIDS = [0x00020009EEB7CECE + i for i in range(40)]     # AddSubMsg of 332 bytes

# (SDK proto class, attributes, sender, receiver, seq id, ack?, payload override, need_ack)
CASES = [
    ('ProtoGetSn', {}, SDK_HOST, host_byte(8, 1), 10001, False, None, 2),
    ('ProtoSetSdkMode', {'_enable': 0}, SDK_HOST, ROBOT_HOST, 20000, False, None, 2),
    ('ProtoSetSdkConnection', {'_host': SDK_HOST, '_ip': '192.168.2.23', '_port': 10321},
     SDK_HOST, ROBOT_HOST, 10002, False, None, 2),
    ('ProtoChassisSpeedMode', {'_x_spd': 0.5, '_y_spd': -0.25, '_z_spd': 30.0},
     SDK_HOST, CHASSIS_HOST, 10003, False, None, 0),
    ('ProtoPositionMove', {'_action_id': 7, '_pos_x': 100, '_pos_y': -20, '_pos_z': 900,
                           '_vel_xy_max': 10, '_agl_omg_max': 300},
     SDK_HOST, CHASSIS_HOST, 256, False, None, 2),
    ('ProtoAddSubMsg', {'_node_id': SDK_HOST, '_msg_id': 21, '_sub_freq': 50,
                        '_sub_data_num': len(MANY_UIDS), '_sub_uid_list': MANY_UIDS},
     SDK_HOST, ROBOT_HOST, 0xFFFF, False, None, 2),
    ('ProtoGetSn', {}, host_byte(8, 1), SDK_HOST, 10001, True,
     '000e00' + b'3JKCK980030E3K'.hex(), 0),
    ('ProtoSetSdkConnection', {}, ROBOT_HOST, SDK_HOST, 10002, True, '0002c0a80217', 0),
    ('ProtoPushPeriodMsg', {}, ROBOT_HOST, SDK_HOST, 1, False, '0015' + '00' * 12, 2),
    ('ProtoPositionPush', {}, CHASSIS_HOST, SDK_HOST, 513, False, '07640164000000' + '0000', 2),
    ('ProtoAddSubMsg', {}, ROBOT_HOST, SDK_HOST, 300, True, 'ab' * 1000, 0),
]


def run_sdk(job):
    done = subprocess.run([sdk_python(), '-c', SDK_SCRIPT], input=json.dumps(job),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def sdk_cases():
    return [{'cls': cls, 'attrs': attrs, 'sender': sender, 'receiver': receiver,
             'seq': seq, 'ack': ack, 'payload': payload}
            for cls, attrs, sender, receiver, seq, ack, payload, _ in CASES]


def our_frame(case, payload_hex, cmdset, cmdid):
    _, _, sender, receiver, seq, ack, _, need_ack = case
    return Frame(sender, receiver, seq, cmdset, cmdid, bytes.fromhex(payload_hex),
                 is_ack=ack, need_ack=need_ack)


def test_encoding_matches_the_sdk_byte_for_byte():
    encoded = run_sdk({'op': 'encode', 'cases': sdk_cases()})
    assert max(len(e['frame']) // 2 for e in encoded) > 1000       # the 10-bit length
    for case, theirs in zip(CASES, encoded):
        sdk_bytes = bytes.fromhex(theirs['frame'])
        frame = our_frame(case, theirs['payload'], sdk_bytes[9], sdk_bytes[10])
        assert encode(frame).hex() == theirs['frame'], case[0]
        assert decode(sdk_bytes) == frame, case[0]


def test_the_sdk_decodes_our_frames():
    frames = [encode(Frame(SDK_HOST, ROBOT_HOST, seq, 0x48, 0x08, bytes([seq & 0xFF]) * size,
                           is_ack=bool(seq % 2), need_ack=seq % 3))
              for seq, size in ((1, 0), (0x1234, 14), (0xFFFF, 300), (777, MAX_PAYLOAD_SIZE))]
    decoded = run_sdk({'op': 'decode', 'frames': [f.hex() for f in frames]})
    for frame, theirs in zip(frames, decoded):
        ours = decode(frame)
        assert theirs == {'sender': ours.sender, 'receiver': ours.receiver,
                          'seq': ours.seq_id, 'cmdset': 0x48, 'cmdid': 0x08,
                          'is_ack': ours.is_ack, 'need_ack': ours.need_ack,
                          'payload': ours.payload.hex(), 'rest': ''}


def test_crcs_match_the_sdk_on_random_inputs():
    rng = random.Random(20201)
    data = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600))) for _ in range(60)]
    theirs = run_sdk({'op': 'crc', 'data': [d.hex() for d in data]})
    assert [[crc8(d), crc16(d)] for d in data] == theirs


def test_bad_frames_are_refused_naming_the_check():
    good = encode(Frame(SDK_HOST, ROBOT_HOST, 42, 0x3F, 0xD5, b''))
    cases = {
        'magic byte': b'\x54' + good[1:],
        'header CRC8': good[:3] + bytes([good[3] ^ 1]) + good[4:],
        'length field': good + b'\x00',
        'CRC16': good[:-1] + bytes([good[-1] ^ 0x80]),
        'shorter than a frame': good[:5],
    }
    for words, data in cases.items():
        with pytest.raises(FrameError, match=words):
            decode(data)
    with pytest.raises(FrameError, match='exceeds'):
        encode(Frame(SDK_HOST, ROBOT_HOST, 1, 0, 1, bytes(MAX_PAYLOAD_SIZE + 1)))


def test_host_bytes_and_acks():
    assert host_byte(9, 6) == 0xC9 and split_host(0xC9) == (9, 6)
    request = Frame(SDK_HOST, ROBOT_HOST, 12345, 0x00, 0x51, b'\x01', need_ack=2)
    ack = request.ack(b'\x00')
    assert (ack.sender, ack.receiver, ack.seq_id, ack.is_ack, ack.need_ack) == \
        (ROBOT_HOST, SDK_HOST, 12345, True, 0)
    with pytest.raises(ValueError, match='host 32'):
        host_byte(32, 0)
