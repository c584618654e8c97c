"""replay: a recorded session republished, compared with what the driver published."""

import subprocess
import threading
import uuid

import pytest
from rosgraph_msgs.msg import Clock
from rclpy.qos import QoSProfile, ReliabilityPolicy

from db_logger import replay
from db_logger.replay_timing import Player, ReplaySchedule
from db_logger.session_messages import default_namespace
from db_logger.session_samples import Row, SessionReader
from recorded_session import (close, db_args, qos_of, record_session, stamp_ns,
                              stored_stamp_ns, STREAM_TYPES)
from robot_db_testing.processes import executable, ros_env
from robot_db_testing.ros_client import wait_until


@pytest.fixture(scope='module')
def recorded_session(mariadb, tmp_path_factory):
    """One session db_logger recorded from a sim driver, for every test here."""
    yield from record_session(mariadb, tmp_path_factory)


def fields(stream: str, msg) -> dict:
    """What a replayed message must carry over from the driver's: every field the tables
    keep, and the driver's frame ids."""
    header = {'frame_id': msg.header.frame_id}
    if stream == 'odom':
        p, o, t = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist
        return {**header, 'child': msg.child_frame_id,
                'floats': [p.x, p.y, o.x, o.y, o.z, o.w, t.linear.x, t.linear.y, t.angular.z]}
    if stream == 'imu':
        o, g, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
        return {**header, 'floats': [o.x, o.y, o.z, o.w, g.x, g.y, g.z, a.x, a.y, a.z]}
    if stream == 'wheel_speeds':
        return {**header, 'floats': [msg.front_right_rpm, msg.front_left_rpm,
                                     msg.rear_left_rpm, msg.rear_right_rpm]}
    if stream == 'battery':
        return {**header, 'floats': [msg.percentage, msg.voltage], 'present': msg.present,
                'technology': msg.power_supply_technology}
    if stream == 'status':
        return {**header, 'floats': [msg.battery_percent],
                'text': [msg.robot_serial, msg.model_type, msg.status, msg.ip_address]}
    if stream == 'command_result':
        return {**header, 'text': [msg.robot_serial, msg.command_id, msg.command_type,
                                   msg.payload_json, msg.result, msg.message]}
    return {**header, 'text': [msg.robot_serial, msg.event_id, msg.event_type, msg.message]}


def assert_same(stream: str, replayed, published) -> None:
    assert stamp_ns(replayed) == stored_stamp_ns(stream, published), stream
    want, got = fields(stream, published), fields(stream, replayed)
    floats_want, floats_got = want.pop('floats', []), got.pop('floats', [])
    assert got == want, stream
    assert all(close(g, w) for g, w in zip(floats_got, floats_want)), \
        f'{stream}: {floats_got} != {floats_want}'


def run_replay(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([str(executable('db_logger', 'replay')), *args], env=ros_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_every_replayed_message_equals_what_the_driver_published(recorded_session, ros_client):
    session = recorded_session
    assert all(session.published[s] for s in STREAM_TYPES), \
        {s: len(m) for s, m in session.published.items()}
    namespace = f'/replay_test_{uuid.uuid4().hex[:6]}'
    received = {stream: ros_client.collect(msg_type, f'{namespace}/{stream}', qos_of(stream))
                for stream, msg_type in STREAM_TYPES.items()}
    clock = ros_client.collect(Clock, '/clock', QoSProfile(
        depth=1000, reliability=ReliabilityPolicy.RELIABLE))
    readers = [s for s in ros_client.node.subscriptions
               if s.topic_name.startswith(namespace) or s.topic_name == '/clock']
    player = subprocess.Popen(
        [str(executable('db_logger', 'replay')), '--session', str(session.session_id),
         '--namespace', namespace, '--rate', '2.0', '--clock', '--wait-subscribers', '2',
         '--delay', '0', *db_args(session.db)],
        env=ros_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # it plays once every topic has 2 subscribers; the second comes once each of ours
        # has matched its publisher too (a best-effort reader drops what comes before)
        assert wait_until(lambda: all(r.get_publisher_count() >= 1 for r in readers), 30)
        for stream, msg_type in STREAM_TYPES.items():
            ros_client.collect(msg_type, f'{namespace}/{stream}', qos_of(stream))
        stdout, stderr = player.communicate(timeout=60)
    finally:
        player.kill()
        player.wait()
    assert player.returncode == 0, stderr
    total = sum(len(m) for m in session.published.values())
    assert f'{total} messages published in 1 pass' in stdout
    assert wait_until(lambda: all(len(received[s]) >= len(session.published[s])
                                  for s in STREAM_TYPES), 10), \
        {s: (len(received[s]), len(session.published[s])) for s in STREAM_TYPES}
    for stream in STREAM_TYPES:
        replayed, published = list(received[stream]), session.published[stream]
        assert len(replayed) == len(published), stream
        for got, want in zip(replayed, published):  # the same order: each in stamp order
            assert_same(stream, got, want)
    # /clock: the session's time, never backwards, up to the last message's stamp
    times = [c.clock.sec * 1_000_000_000 + c.clock.nanosec for c in list(clock)]
    last = max(stored_stamp_ns(s, m[-1]) for s, m in session.published.items())
    assert len(times) >= total and times == sorted(times)
    assert session.start_ns <= times[0] and times[-1] == last


def test_replay_reads_the_session_merged_in_stamp_order_from_an_offset(recorded_session):
    conn = recorded_session.db.connect()
    try:
        reader = SessionReader.open(conn, recorded_session.session_id, page=7)  # many pages
        everything = list(reader.merged())
        origin = reader.info.start_ns + 1_000_000_000
        later = list(reader.merged(from_ns=origin))
    finally:
        conn.close()
    keys = [(row.stamp_ns, list(STREAM_TYPES).index(row.stream)) for row in everything]
    assert keys == sorted(keys) and len(everything) == sum(
        len(m) for m in recorded_session.published.values())
    assert later == [row for row in everything if row.stamp_ns >= origin] and later


class FakeTime:
    """A monotonic clock that advances only when the player waits."""

    def __init__(self) -> None:
        self.now = 100.0
        self.stopped = False

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        return self.stopped

    def is_set(self) -> bool:
        return self.stopped


def test_player_publishes_at_stamp_time_over_rate_with_the_clock_before_each_message():
    rows = [Row('odom', 5_000_000_000 + n * 50_000_000, ()) for n in range(10)]
    fake = FakeTime()
    published, clock = [], []
    player = Player(lambda: rows, ReplaySchedule(4_000_000_000, rate=2.0),
                    lambda row: published.append((fake.now, row)), lambda: fake.now, fake,
                    clock=lambda ns: clock.append((fake.now, ns)), clock_period=0.1)
    assert player.run() == 10
    for wall, row in published:  # due (stamp - origin) / rate after the start
        assert wall == pytest.approx(100.0 + (row.stamp_ns - 4e9) / 1e9 / 2.0, abs=1e-6)
    assert [ns for _, ns in clock] == sorted(ns for _, ns in clock)
    assert {row.stamp_ns for _, row in published} <= {ns for _, ns in clock}
    # between messages the clock runs at the session's pace: rate x wall time
    gaps = [(w, ns) for w, ns in clock if ns < 5_000_000_000]
    assert len(gaps) >= 4 and all(ns == pytest.approx(4e9 + (w - 100.0) * 2e9, abs=1e3)
                                  for w, ns in gaps)


def test_player_loops_until_stopped():
    rows = [Row('odom', n * 10_000_000, ()) for n in range(3)]
    fake = FakeTime()
    published = []

    def publish(row):
        published.append(row.stamp_ns)
        fake.stopped = len(published) == 7

    player = Player(lambda: rows, ReplaySchedule(0, 1.0), publish, lambda: fake.now, fake,
                    loop=True)
    assert player.run() == 7
    assert published == [0, 10_000_000, 20_000_000] * 2 + [0]
    assert player.passes == 2


@pytest.mark.parametrize('argv, names', [
    (['--session', '1', '--rate', '0'], '--rate'),
    (['--session', '1', '--rate', 'nan'], '--rate'),
    (['--session', '1', '--start-offset', '-1'], '--start-offset'),
    (['--session', '1', '--namespace', 'no/leading/slash'], '--namespace'),
    (['--session', '1', '--namespace', '/9bad'], '--namespace'),
    (['--session', '1', '--wait-subscribers', '-1'], '--wait-subscribers'),
    (['--session', 'one'], '--session'),
    (['--session', '1', '--speed', '2'], '--speed'),
    ([], '--session'),
])
def test_bad_arguments_exit_2_naming_the_argument(argv, names, capsys):
    with pytest.raises(SystemExit) as exited:
        replay.parse_arguments(argv)
    assert exited.value.code == 2
    assert names in capsys.readouterr().err


def test_unknown_session_and_offset_past_the_end_exit_2_naming_the_argument(recorded_session):
    db = recorded_session.db
    missing = run_replay('--session', '999999', *db_args(db))
    assert missing.returncode == 2
    assert '--session' in missing.stderr and '999999 does not exist' in missing.stderr
    past = run_replay('--session', str(recorded_session.session_id), '--start-offset', '3600',
                      *db_args(db))
    assert past.returncode == 2 and '--start-offset' in past.stderr, past.stderr


def test_default_namespace_is_a_valid_name_apart_from_live_robots():
    assert default_namespace('SIM-robot') == '/replay/SIM_robot'
    assert default_namespace('3JKCK980030E3K') == '/replay/sn_3JKCK980030E3K'


def test_a_namespace_a_live_robot_publishes_in_is_refused(recorded_session):
    """The recording's driver still publishes under its namespace (5 s: time for discovery
    on a busy machine)."""
    session = recorded_session
    namespace = '/' + session.published['status'][0].robot_serial[len('SIM-'):]
    result = run_replay('--session', str(session.session_id), '--namespace', namespace,
                        '--delay', '5', *db_args(session.db))
    assert result.returncode == 2, result.stdout + result.stderr
    assert '--namespace' in result.stderr and 'in use' in result.stderr


def test_stop_ends_a_looping_player_between_messages():
    stop = threading.Event()
    rows = [Row('odom', 0, ()), Row('odom', 3600 * 10**9, ())]
    published = []
    player = Player(lambda: rows, ReplaySchedule(0, 1.0), lambda r: (published.append(r),
                                                                     stop.set()),
                    lambda: 0.0, stop, loop=True)
    assert player.run() == 1 and published == rows[:1]


class CreepingTime(FakeTime):
    """FakeTime whose clock also moves a little at every reading, as a real one does."""

    def __init__(self, creep: float) -> None:
        super().__init__()
        self.creep = creep

    def read(self) -> float:
        self.now += self.creep
        return self.now


def test_the_clock_between_messages_never_passes_the_next_one():
    rows = [Row('odom', 5_000_000_000 + n * 10_000_000, ()) for n in range(20)]
    fake = CreepingTime(creep=0.002)
    clock = []
    player = Player(lambda: rows, ReplaySchedule(5_000_000_000, rate=1.0), lambda row: None,
                    fake.read, fake, clock=clock.append, clock_period=0.004)
    assert player.run() == 20
    assert clock == sorted(clock) and clock[-1] == rows[-1].stamp_ns
