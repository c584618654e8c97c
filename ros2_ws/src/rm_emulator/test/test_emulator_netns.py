"""PrivateLink: two namespaces, addresses on the veth only, a cut seen from both sides,
nothing left behind; and the ep_emulator command line."""

import os
import struct
import subprocess
import sys

import pytest
from emulator_harness import Scenario, require_root
from rm_emulator import messages as m
from rm_emulator.cli import parse_args
from rm_emulator.framing import Frame, encode
from rm_emulator.netns import ADDRESSES, PrivateLink

# Sends one SetSdkConnection to the robot and prints the reply's hex, or the error.
HANDSHAKE = '''
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1.0)
try:
    sock.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 30030))
    print(sock.recvfrom(1024)[0].hex())
except OSError as error:
    print(type(error).__name__)
'''


def handshake(scenario):
    request = encode(Frame(m.HOST_SDK, m.HOST_SYSTEM, 1, *m.SET_SDK_CONNECTION,
                           struct.pack('<BBBB4BH', 0, m.HOST_SDK, 0, 0, 0, 0, 0, 0, 10100),
                           need_ack=2))
    done = subprocess.run(scenario.link.prefix('sdk') + [
        sys.executable, '-c', HANDSHAKE, scenario.link.robot_address, request.hex()],
        capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


def link_flags(link, side, iface):
    return link.run(side, 'ip', '-o', 'link', 'show', iface)


@pytest.mark.parametrize('conn_type', sorted(ADDRESSES))
def test_each_side_holds_only_its_address_and_close_leaves_nothing(conn_type):
    require_root()
    own = subprocess.run(['ip', '-o', 'addr'], capture_output=True, text=True,
                         timeout=10).stdout
    link = PrivateLink(conn_type)
    try:
        robot, sdk = (link.run(side, 'ip', '-o', '-4', 'addr') for side in ('robot', 'sdk'))
        holders = [h.pid for h in link._holders.values()]
    finally:
        link.close()
    robot_ip, sdk_ip = f'{link.robot_address}/', f'{link.sdk_address}/'
    assert robot_ip in robot and sdk_ip not in robot
    assert sdk_ip in sdk and robot_ip not in sdk
    assert robot_ip not in own and sdk_ip not in own
    assert not any(os.path.exists(f'/proc/{pid}') for pid in holders)
    with pytest.raises(ValueError, match="'robot' or 'sdk'"):
        link.prefix('robot')


def test_a_cut_is_seen_from_both_sides_and_restore_heals_it():
    require_root()
    with Scenario('ap') as scenario:
        link = scenario.link
        assert handshake(scenario).startswith('55')
        link.cut()
        assert 'state DOWN' in link_flags(link, 'robot', 'rm-robot')
        assert 'NO-CARRIER' in link_flags(link, 'sdk', 'rm-sdk')
        assert not handshake(scenario).startswith('55')
        link.restore()
        assert 'NO-CARRIER' not in link_flags(link, 'sdk', 'rm-sdk')
        assert handshake(scenario).startswith('55')
        # The datagram sent during the cut may sit in the SDK side's queue until restored.
        assert scenario.control.state()['counts']['handshakes'] in (2, 3)


def test_command_line_defaults_and_refusals(capsys):
    assert parse_args(['--conn-type', 'rndis']).address == '192.168.42.2'
    args = parse_args([])
    assert (args.conn_type, args.address, args.serial) == ('ap', '192.168.2.1',
                                                           '3JKCK980030E3K')
    for argv, words in ((['--conn-type', 'sta'], '--address is required'),
                        (['--serial', 'short'], "--serial 'short'")):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert words in capsys.readouterr().err


def test_the_emulator_exits_1_naming_an_address_it_cannot_bind():
    done = subprocess.run([sys.executable, '-m', 'rm_emulator.cli', '--address', '192.0.2.77'],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert 'cannot bind udp 192.0.2.77:30030' in done.stderr
