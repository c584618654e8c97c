"""The installed sim driver under a stream of cmd_vel, over real DDS: every command
handled (after stalls, all that cmd_vel's KEEP_LAST 10 keeps), the watchdog judged by
the stamps of what the driver published, and a clean exit on SIGINT / SIGTERM. Judged
by counts and stamps, never by pace."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from typing import List, Tuple

import pytest
from geometry_msgs.msg import Twist, Vector3

from robot_db_testing.ros_client import wait_until

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from driver_process_helpers import Driver  # noqa: E402

CMD_PERIOD = 0.25   # s: cmd_vel at 4 Hz
TIMEOUT = 0.5       # s: the driver's default cmd_vel_timeout
DEPTH = 10          # cmd_vel QoS (docs/design.md): RELIABLE, VOLATILE, KEEP_LAST 10


def stamp_of(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def speed(seq: int) -> float:
    """A speed of its own per message (steps above the driver's 1e-3 tolerance, below
    1 m/s for 200 messages), so every handled cmd_vel leaves one "velocity set"
    command_result that names it."""
    return round(0.2 + seq * 0.004, 3)


class CmdVelStream(threading.Thread):
    """cmd_vel every CMD_PERIOD s until stopped, at most `limit` messages; sent_at holds
    the wall time of each, taken before it is published (the driver stamps its results
    with the same clock)."""

    def __init__(self, publisher, limit: int) -> None:
        super().__init__(daemon=True)
        self._publisher = publisher
        self._limit = limit
        self._halt = threading.Event()
        self.sent = 0
        self.sent_at: List[float] = []

    def run(self) -> None:
        while self.sent < self._limit and not self._halt.is_set():
            msg = Twist()
            msg.linear.x = speed(self.sent)
            self.sent_at.append(time.time())
            self._publisher.publish(msg)
            self.sent += 1
            self._halt.wait(CMD_PERIOD)

    def stop(self) -> int:
        self._halt.set()
        self.join(5.0)
        return self.sent


def velocity_rows(driver: Driver) -> Tuple[List[float], List[float]]:
    """Stamps of the "velocity set" results and of the watchdog stops."""
    set_at, stops_at = [], []
    for result in driver.results_of('Velocity'):
        if json.loads(result.payload_json).get('source') == 'watchdog':
            stops_at.append(stamp_of(result))
        elif result.message.startswith('velocity set'):
            set_at.append(stamp_of(result))
    return set_at, stops_at


def handled(driver: Driver, sent: int) -> List[Tuple[int, float]]:
    """(sequence number, stamp) of each "velocity set" result, in the order received."""
    seq_of = {speed(seq): seq for seq in range(sent)}
    return [(seq_of[json.loads(r.payload_json)['linear']], stamp_of(r))
            for r in driver.results_of('Velocity') if r.message.startswith('velocity set')]


def unexplained_losses(rows: List[Tuple[int, float]], sent_at: List[float]) -> List[int]:
    """The cmd_vels missing from `rows` that KEEP_LAST(DEPTH) cannot have dropped. DDS
    drops one only once DEPTH newer ones were sent while it waited, so the driver took
    the next one it handled after the DEPTH-th newer was sent."""
    seqs = [seq for seq, _ in rows]
    losses = []
    for seq in sorted(set(range(len(sent_at))) - set(seqs)):
        taken_next = min((stamp for s, stamp in rows if s > seq), default=None)
        if seq + DEPTH >= len(sent_at) or taken_next is None or \
                taken_next < sent_at[seq + DEPTH]:
            losses.append(seq)
    return losses


def command_age_at(stops_at: List[float], set_at: List[float]) -> List[float]:
    """For each watchdog stop, the time since the latest "velocity set" before it."""
    ages = []
    for stop in stops_at:
        before = [s for s in set_at if s <= stop]
        if before:
            ages.append(stop - max(before))
    return ages


def start_stream(driver: Driver, ros_client, limit: int) -> CmdVelStream:
    publisher = ros_client.node.create_publisher(Twist, driver.name('cmd_vel'), DEPTH)
    assert wait_until(lambda: publisher.get_subscription_count() > 0, 10)
    stream = CmdVelStream(publisher, limit)
    stream.start()
    return stream


def test_every_cmd_vel_at_4_hz_is_handled_and_the_watchdog_stays_quiet(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    stream = start_stream(driver, ros_client, limit=24)   # 6 s
    stream.join(30.0)
    sent = stream.stop()
    assert wait_until(lambda: len(velocity_rows(driver)[0]) >= sent, 10)
    assert wait_until(lambda: velocity_rows(driver)[1], 5)   # the stop after the stream
    set_at, stops_at = velocity_rows(driver)
    assert len(set_at) == sent
    # the one stop comes after the last command, never between two
    assert len(stops_at) == 1 and stops_at[0] >= set_at[-1] + TIMEOUT - 0.005


def test_a_stalled_driver_never_stops_the_chassis_right_after_a_fresh_cmd_vel(
        nodes, ros_client):
    driver = Driver(nodes, ros_client)
    stream = start_stream(driver, ros_client, limit=200)
    try:
        for _ in range(10):   # 1 s stalls: the watchdog's expiry falls due meanwhile
            time.sleep(0.8)
            os.kill(driver.process.pid, signal.SIGSTOP)
            time.sleep(1.0)
            os.kill(driver.process.pid, signal.SIGCONT)
    finally:
        os.kill(driver.process.pid, signal.SIGCONT)
        sent = stream.stop()
    # the newest cmd_vel always arrives (RELIABLE), then the watchdog stops the chassis
    assert wait_until(lambda: (sent - 1) in [seq for seq, _ in handled(driver, sent)], 10)
    assert wait_until(lambda: velocity_rows(driver)[1] and
                      velocity_rows(driver)[1][-1] > velocity_rows(driver)[0][-1], 5)
    rows = handled(driver, sent)
    seqs = [seq for seq, _ in rows]
    assert seqs == sorted(set(seqs)), 'cmd_vels handled out of order or twice'
    # After a stall DDS may hold the stream until its next heartbeat; KEEP_LAST(DEPTH)
    # then keeps the newest DEPTH, as the contract allows: no other loss is.
    assert not unexplained_losses(rows, stream.sent_at), \
        f'cmd_vels {unexplained_losses(rows, stream.sent_at)} of {sent} lost'
    set_at, stops_at = velocity_rows(driver)
    too_soon = [age for age in command_age_at(stops_at, set_at) if age < TIMEOUT - 0.005]
    assert not too_soon, f'watchdog stops {too_soon} s after a fresh cmd_vel'


def test_a_watchdog_call_run_late_after_a_fresh_cmd_vel_leaves_the_chassis_moving():
    """The race a stall opens, in order: the expiry falls due, a fresh cmd_vel is
    handled, then the timer's callback (taken before that cmd_vel reset it) runs."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter
    from rm_driver.driver_node import DriverNode

    context = Context()
    rclpy.init(context=context)
    try:
        node = DriverNode(context=context, namespace='late_watchdog',
                          parameter_overrides=[Parameter('cmd_vel_timeout', value=0.05)])
        results = []
        node._reporter.result = lambda *args, **kwargs: results.append(args) or ''
        node._on_cmd_vel(Twist(linear=Vector3(x=0.5)))
        time.sleep(0.1)   # the expiry falls due (longer is as good)
        node._on_cmd_vel(Twist(linear=Vector3(x=0.5)))   # fresh, same speed
        node._on_watchdog()
        assert [r[3] for r in results] == ['velocity set']
        time.sleep(0.1)   # now it really is stale: a stop is due
        node._on_watchdog()
        assert len(results) == 2 and 'watchdog' in results[1][3]
        node.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


ERROR_LINE = re.compile(r'traceback|exception was never retrieved|\berror\b', re.IGNORECASE)


@pytest.mark.parametrize('signals', [('SIGINT',), ('SIGTERM',), ('SIGINT', 'SIGINT')],
                         ids=['sigint', 'sigterm', 'sigint-twice'])
def test_a_signal_ends_the_driver_cleanly_and_quietly(nodes, ros_client, signals):
    driver = Driver(nodes, ros_client)
    stream = start_stream(driver, ros_client, limit=40)   # stopped while driving
    assert wait_until(lambda: velocity_rows(driver)[0], 5)
    for name in signals:
        driver.process.popen.send_signal(getattr(signal, name))
        time.sleep(0.02)
    try:
        code = driver.process.popen.wait(15)
    finally:
        stream.stop()
    assert code == 0
    with pytest.raises(ProcessLookupError):   # nothing left in its process group
        os.killpg(driver.process.pid, 0)
    bad = [line for line in driver.process.output().splitlines() if ERROR_LINE.search(line)]
    assert not bad, bad
