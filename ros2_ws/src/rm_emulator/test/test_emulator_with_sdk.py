"""The real robomaster SDK (in its Python 3.8) against the emulator, each in its own
network namespace of a PrivateLink: connection in every conn type, serial and version,
every stream at its rate and in the SDK's units, drive_speed, a 1 m move, close."""

import pytest
from emulator_harness import Scenario, require_root, sdk_python

SERIAL = '3JKCK980030E3K'
STREAMS = ('position', 'attitude', 'velocity', 'imu', 'esc', 'battery')


@pytest.fixture(autouse=True)
def _needs_root_and_sdk():
    require_root()
    sdk_python()


CONNECT = [['init', {}], ['get_sn', {}], ['get_version', {}],
           ['set_mode', {'mode': 'chassis_lead'}], ['close', {}]]


@pytest.mark.parametrize('conn_type, sn, emulator_args', [
    ('ap', None, []),
    ('ap', 'ANYTHING000000', []),              # the SDK ignores the serial in ap
    ('rndis', None, []),
    ('sta', SERIAL, []),
    ('sta', None, []),
    ('sta', None, ['--no-broadcast-serial']),
])
def test_the_sdk_connects_reads_serial_and_version_and_closes(conn_type, sn, emulator_args):
    with Scenario(conn_type, emulator_args) as scenario:
        init, get_sn, version, mode, close = scenario.probe(CONNECT, sn=sn)
        state = scenario.control.state()
        log = scenario.emulator_log()
        assert scenario.close() == 0                       # SIGTERM: exit 0
    assert init['value'] is True and not init['hung'], (init, log)
    assert get_sn['value'] == SERIAL
    assert version['value'] == '01.01.1200'
    assert mode == {'step': 'set_mode', 'ok': True, 'value': 'chassis_lead'}
    assert not close['hung'] and close['error'] is None
    assert state['counts']['handshakes'] == 1 and state['sdk_mode'] is False
    assert state['mode'] == 'chassis_lead'
    assert 'handshake from' in log and 'ftp connection from' in log


@pytest.mark.parametrize('serial, emulator_args', [
    ('3JKCK980030E3X', []),                            # another robot's serial
    (SERIAL, ['--no-broadcast-serial']),               # a robot not broadcasting it
])
def test_sta_with_a_serial_not_broadcast_fails_within_seconds(serial, emulator_args):
    with Scenario('sta', emulator_args) as scenario:
        init, close = scenario.probe([['init', {}], ['close', {}]], sn=serial)
        assert scenario.control.state()['counts']['handshakes'] == 0
    # The SDK's scan gives up after 3 s (other serials) or 1 s (no broadcast at all);
    # initialize() then raises TypeError (`raise print(...)` in client.py) instead of
    # returning False, and close() raises.
    assert not init['hung'] and init['value'] is None
    assert init['error'].startswith('TypeError') and 0.5 < init['seconds'] < 10
    assert close['error'].startswith('AttributeError')


@pytest.mark.parametrize('freq', [5, 10, 20, 50])
def test_every_stream_arrives_at_its_rate_in_the_sdk_units(freq):
    window = 3.0
    with Scenario('ap') as scenario:
        scenario.control.battery(57)
        results = scenario.probe([['init', {}], ['subscribe', {'freq': freq}],
                                  ['count', {'seconds': window}], ['close', {}]])
        pushed = scenario.control.state()['counts']['pushes']
    subscribe, count = results[1], results[2]
    assert subscribe['results'] == {name: True for name in STREAMS}
    expected = freq * window
    for name in STREAMS:
        # Counts over the window, not pace; the SDK skips a push while the previous
        # callback of that stream still runs, and calls back twice on a stream's first.
        assert 0.6 * expected <= count['counts'][name] <= 1.2 * expected + 2, (name, count)
        assert pushed[name] >= count['counts'][name] - 1
    last = count['last']
    assert last['battery'] == 57
    assert last['position'] == [0.0, 0.0, 0.0] and last['attitude'] == [0.0, 0.0, 0.0]
    assert last['imu'] == [0.0, 0.0, -1.0, 0.0, 0.0, 0.0]          # g, deg/s; z down
    assert last['esc'][0] == [0, 0, 0, 0] and len(last['esc']) == 4


def test_move_and_drive_speed_agree_with_the_emulated_chassis():
    control = ['control', {'cmd': 'state'}]
    steps = [['init', {}], ['subscribe', {'freq': 10, 'streams': ['position', 'esc']}],
             ['move', {'x': 1.0, 'xy_speed': 0.5, 'wait': 10.0}], control,
             ['drive', {'x': 0.5, 'y': 0.2, 'z': 30.0}], ['sleep', {'seconds': 1.0}], control,
             ['count', {'seconds': 0.5}], ['drive', {}], ['sleep', {'seconds': 0.3}], control,
             ['count', {'seconds': 0.5}], ['close', {}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    move, after_move = results[2], results[3]['reply']['state']
    driving, moving_push = results[6]['reply']['state'], results[7]['last']
    stopped, still_push = results[10]['reply']['state'], results[11]['last']
    # The move: accepted, progress pushes, completed by the final push, at x = 1 m.
    assert move['completed'] and move['state'] == 'action_succeeded'
    assert move['first_state'] in ('action_idle', 'action_started')   # idle until the ack
    assert len(move['percents']) >= 5 and move['percents'] == sorted(move['percents'])
    assert after_move['pose'] == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)
    assert after_move['last_move']['state'] == 'succeeded'
    # drive_speed: a push with no ack, so the SDK reports False although it was applied.
    assert results[4]['value'] is False
    assert driving['last_drive_speed'] == pytest.approx([0.5, 0.2, 30.0])
    assert driving['velocity'] == pytest.approx([0.5, 0.2, 30.0], abs=3e-3)   # midpoint rule
    assert driving['pose'][0] > 1.3 and driving['pose'][2] > 20      # clockwise
    assert moving_push['esc'][0][1] < 0 < moving_push['esc'][0][0]   # left wheels negated
    assert stopped['velocity'] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert still_push['position'] == pytest.approx(stopped['pose'], abs=0.01)
