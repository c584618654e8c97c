"""export: a recorded session as MCAP, read back by two readers that share no code with it."""

import subprocess

import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.highlevel import AnyReader
from rosbags.typesys import get_typestore, Stores

from db_logger.msg_definitions import dependencies, MessageDefinitions
from db_logger.session_messages import type_name
from recorded_session import close, db_args, record_session, stored_stamp_ns, STREAM_TYPES
from robot_db_testing.processes import executable, ros_env


@pytest.fixture(scope='module')
def recorded_session(mariadb, tmp_path_factory):
    """One session db_logger recorded from a sim driver, for every test here."""
    yield from record_session(mariadb, tmp_path_factory)


def export(session, out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(executable('db_logger', 'export')), '--session',
                           str(session.session_id), str(out), *extra, *db_args(session.db)],
                          env=ros_env(), capture_output=True, text=True, timeout=60)


def values(stream: str, msg) -> list:
    """The stored numbers of a decoded message (either reader's objects)."""
    if stream == 'odom':
        p, t = msg.pose.pose.position, msg.twist.twist
        return [p.x, p.y, msg.pose.pose.orientation.z, msg.pose.pose.orientation.w,
                t.linear.x, t.linear.y, t.angular.z]
    if stream == 'imu':
        o, g, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
        return [o.x, o.y, o.z, o.w, g.x, g.y, g.z, a.x, a.y, a.z]
    if stream == 'wheel_speeds':
        return [msg.front_right_rpm, msg.front_left_rpm, msg.rear_left_rpm, msg.rear_right_rpm]
    if stream == 'battery':
        return [msg.percentage]
    if stream == 'status':
        return [msg.battery_percent]
    return []


def texts(stream: str, msg) -> list:
    if stream == 'status':
        return [msg.robot_serial, msg.status, msg.ip_address]
    if stream == 'command_result':
        return [msg.command_id, msg.command_type, msg.payload_json, msg.result, msg.message]
    if stream == 'event':
        return [msg.event_id, msg.event_type, msg.message]
    return [msg.header.frame_id]


def check_topic(stream: str, decoded: list, session) -> None:
    """decoded: [(log_time, message)] of one topic, in file order."""
    published = session.published[stream]
    assert len(decoded) == len(published), stream
    for (log_time, got), want in zip(decoded, published):
        stamp = stored_stamp_ns(stream, want)
        assert log_time == stamp, stream
        assert got.header.stamp.sec * 10**9 + got.header.stamp.nanosec == stamp, stream
        assert texts(stream, got) == texts(stream, want), stream
        assert all(close(g, w) for g, w in zip(values(stream, got), values(stream, want))), \
            (stream, values(stream, got), values(stream, want))


@pytest.fixture(scope='module')
def exported(recorded_session, tmp_path_factory):
    out = tmp_path_factory.mktemp('export') / 'session.mcap'
    result = export(recorded_session, out, '--namespace', '/replay/test')
    assert result.returncode == 0, result.stderr
    total = sum(len(m) for m in recorded_session.published.values())
    assert f'{total} messages under /replay/test' in result.stdout
    return out


def test_mcap_reader_decodes_every_message_with_the_schemas_in_the_file(exported,
                                                                        recorded_session):
    with open(exported, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        header, summary = reader.get_header(), reader.get_summary()
        assert header.profile == 'ros2'
        by_topic = {f'/replay/test/{s}': [] for s in STREAM_TYPES}
        for schema, channel, message, decoded in reader.iter_decoded_messages():
            assert (schema.encoding, channel.message_encoding) == ('ros2msg', 'cdr')
            by_topic[channel.topic].append((message.log_time, decoded))
        channels = {c.topic: c for c in summary.channels.values()}
    for stream, msg_type in STREAM_TYPES.items():
        topic = f'/replay/test/{stream}'
        assert summary.schemas[channels[topic].schema_id].name == type_name(stream)
        qos = yaml.safe_load(channels[topic].metadata['offered_qos_profiles'])[0]
        record = stream in ('status', 'command_result', 'event')
        assert (qos['reliability'], qos['durability']) == ((1, 1) if record else (2, 2))
        check_topic(stream, by_topic[topic], recorded_session)


def test_rosbags_reads_the_file_as_a_rosbag2_mcap(exported, recorded_session):
    typestore = get_typestore(Stores.EMPTY)
    with AnyReader([exported], default_typestore=typestore) as reader:
        assert {c.topic for c in reader.connections} == {f'/replay/test/{s}'
                                                         for s in STREAM_TYPES}
        by_topic = {c.topic: [] for c in reader.connections}
        for connection, log_time, raw in reader.messages():
            by_topic[connection.topic].append((log_time, reader.deserialize(raw,
                                                                            connection.msgtype)))
        qos = {c.topic: c.ext.offered_qos_profiles[0] for c in reader.connections}
    for stream in STREAM_TYPES:
        check_topic(stream, by_topic[f'/replay/test/{stream}'], recorded_session)
    assert qos['/replay/test/event'].durability.name == 'TRANSIENT_LOCAL'
    assert qos['/replay/test/odom'].reliability.name == 'BEST_EFFORT'


def test_definitions_are_concatenated_depth_first_once_each():
    texts = {'a/Top': 'b/Mid mid\nHeader h # std_msgs in rosbag2 only when written so\n',
             'b/Mid': 'Leaf leaf\nstring s\n', 'b/Leaf': 'int32 x\n',
             'a/Header': 'uint8 y\n'}
    definitions = MessageDefinitions(lambda package, name: texts[f'{package}/{name}'])
    rule = '=' * 80
    assert definitions.full_text('a/msg/Top') == (
        texts['a/Top'] + f'\n{rule}\nMSG: a/Header\n' + texts['a/Header']
        + f'\n{rule}\nMSG: b/Mid\n' + texts['b/Mid']
        + f'\n{rule}\nMSG: b/Leaf\n' + texts['b/Leaf'])
    assert dependencies('string<=5 s\nfloat64[36] c\n# Pose p\ngeometry_msgs/Pose[] p\n',
                        'nav_msgs') == {'geometry_msgs/Pose'}


def test_an_existing_file_is_kept_unless_forced(recorded_session, tmp_path):
    out = tmp_path / 'kept.mcap'
    out.write_bytes(b'mine')
    refused = export(recorded_session, out)
    assert refused.returncode == 2 and 'exists' in refused.stderr
    assert out.read_bytes() == b'mine'
    assert export(recorded_session, out, '--force').returncode == 0
    assert out.read_bytes()[:5] == b'\x89MCAP'
    wrong = export(recorded_session, tmp_path / 'out.bag')
    assert wrong.returncode == 2 and 'argument output' in wrong.stderr
