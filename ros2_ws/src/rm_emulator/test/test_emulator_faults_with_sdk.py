"""Each fault switch of the emulator, and what the real robomaster SDK does under it
(the facts the sdk backend's adapter has to live with)."""

import pytest
from emulator_harness import Scenario, require_root, sdk_python

STATE = ['control', {'cmd': 'state'}]


@pytest.fixture(autouse=True)
def _needs_root_and_sdk():
    require_root()
    sdk_python()


def fault(name, **args):
    return ['control', dict(cmd='fault', name=name, **args)]


def position_counts(results):
    return [r['counts']['position'] for r in results if r['step'] == 'count']


def test_link_down_silences_pushes_and_calls_until_it_is_up_again():
    steps = [['init', {}], ['subscribe', {'freq': 10, 'streams': ['position']}],
             ['count', {'seconds': 1.0}], ['control', {'cmd': 'link', 'up': False}],
             ['sleep', {'seconds': 0.3}], ['count', {'seconds': 1.5}], ['get_sn', {}],
             ['control', {'cmd': 'link', 'up': True}], ['sleep', {'seconds': 0.3}],
             ['count', {'seconds': 1.5}], ['get_sn', {}], STATE, ['close', {}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    before, during, after = position_counts(results)
    assert before >= 5 and during == 0 and after >= 8
    assert results[6]['value'] is None                   # get_sn times out (3 s)
    assert results[10]['value'] == '3JKCK980030E3K'
    counts = results[11]['reply']['state']['counts']
    assert counts['dropped_in'] >= 3 and counts['dropped_out'] >= 10


def test_a_silent_robot_makes_initialize_raise_after_the_handshake_timeout():
    with Scenario('ap') as scenario:
        scenario.control.fault('silent', on=True)
        init, close = scenario.probe([['init', {}], ['close', {}]])
        counts = scenario.control.state()['counts']
    # SetSdkConnection waits 5 s, then initialize() raises TypeError, never returns False.
    assert not init['hung'] and init['value'] is None and 4.5 < init['seconds'] < 15
    assert init['error'].startswith('TypeError')
    assert close['error'] is not None
    assert counts['handshakes'] == 0 and counts['ignored'] >= 1


def test_a_silent_ftp_port_hangs_initialize_unless_the_ftp_client_has_a_timeout():
    with Scenario('ap') as scenario:
        scenario.control.fault('ftp', mode='silent')
        (hung,) = scenario.probe([['init', {'timeout': 8.0}]])
        timed, close = scenario.probe([['init', {'timeout': 20.0, 'ftp_timeout': 1.0}],
                                       ['close', {}]])
        scenario.control.fault('ftp', mode='normal')
        (normal,) = scenario.probe([['init', {'timeout': 20.0}]])
    assert hung['hung']                                  # still blocked after 8 s
    assert not timed['hung'] and timed['error'].startswith('timeout')
    assert normal['value'] is True


def test_a_busy_robot_rejects_the_move():
    steps = [['init', {}], fault('busy', on=True), ['move', {'x': 0.5, 'wait': 5.0}],
             fault('busy', on=False), ['move', {'x': 0.5, 'wait': 5.0}], STATE,
             ['close', {}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    rejected, accepted, state = results[2], results[4], results[5]['reply']['state']
    assert rejected['completed'] and rejected['state'] == 'action_rejected'
    assert accepted['completed'] and accepted['state'] == 'action_succeeded'
    assert state['counts']['move_rejected'] == 1
    assert state['pose'] == pytest.approx([0.5, 0.0, 0.0], abs=1e-6)


def test_a_lost_final_push_leaves_the_sdk_action_running_and_wedges_the_next_move():
    steps = [['init', {}], ['subscribe', {'freq': 10, 'streams': ['position']}],
             fault('final_push', mode='drop'), ['move', {'x': 0.5, 'wait': 3.0}], STATE,
             ['move', {'x': 0.5, 'wait': 3.0}], ['count', {'seconds': 1.5}],
             ['get_sn', {}], ['close', {'timeout': 8.0}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    lost, state, second = results[3], results[4]['reply']['state'], results[5]
    assert not lost['completed'] and lost['state'] == 'action_running'
    assert max(lost['percents']) < 100
    assert state['pose'] == pytest.approx([0.5, 0.0, 0.0], abs=1e-6)   # the robot is done
    assert second['raised'].startswith('Exception: Robot is already performing')
    # move() raised holding _in_progress_mutex: the SDK's receive thread blocks on it
    # (a push already queued for the callback pool may still arrive).
    assert position_counts(results)[0] <= 1
    assert results[7]['value'] is None
    assert results[8]['hung']


def test_a_delayed_final_push_completes_the_move_late():
    steps = [['init', {}], fault('final_push', mode='delay', delay=2.0),
             ['move', {'x': 0.5, 'wait': 1.8}], ['sleep', {'seconds': 1.5}], STATE,
             ['close', {}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    late = results[2]
    assert not late['completed']                           # 1 s move + 2 s > 1.8 s
    assert results[4]['reply']['state']['counts']['final_pushes'] == 1
    assert results[4]['reply']['state']['faults']['final_push'] == 'normal'   # one shot


def test_unsubscribing_before_a_delayed_first_push_raises_in_the_sdk():
    steps = [['init', {}], fault('first_push_delay', delay=2.0),
             ['subscribe', {'freq': 10, 'streams': ['position', 'imu']}],
             ['count', {'seconds': 1.0}], ['unsubscribe', {'streams': ['position']}],
             ['count', {'seconds': 2.0}], STATE, ['close', {}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    first, unsub, later = results[3], results[4], results[5]
    assert first['counts']['imu'] == 0                       # nothing before 2 s
    assert "'NoneType' object has no attribute 'done'" in unsub['results']['position']
    assert later['counts']['imu'] >= 5
    # The SDK never sent the unsubscribe: the robot still pushes the position.
    assert 'position' in results[6]['reply']['state']['subscriptions']


def test_a_stray_datagram_wedges_the_sdk_receive_path_for_good():
    steps = [['init', {}], ['subscribe', {'freq': 10, 'streams': ['position']}],
             ['count', {'seconds': 1.0}], fault('stray_datagram'),
             ['count', {'seconds': 1.5}], ['get_sn', {}], STATE, ['close', {'timeout': 8}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    before, after = position_counts(results)
    assert before >= 5 and after == 0
    assert results[5]['value'] is None
    assert results[6]['reply']['state']['counts']['stray_datagrams'] == 1


def test_armor_hits_reach_the_sdk_subscriber():
    steps = [['init', {}], ['sub_hit', {}], ['control', {'cmd': 'hit', 'armor_id': 3}],
             ['count', {'seconds': 0.5}], ['close', {}]]
    with Scenario('ap') as scenario:
        results = scenario.probe(steps)
    assert results[1]['ok'] is True
    # 1 or 2 calls: the SDK may run a subject's first callback twice (dds.py).
    assert 1 <= results[3]['totals']['hit'] <= 2 and results[3]['last']['hit'] == [3, 'water']
