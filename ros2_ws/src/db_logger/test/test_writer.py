"""BatchWriter against a real MariaDB (no ROS graph): order, acknowledgement, set-asides."""

import json
import time
import uuid

from rclpy.serialization import serialize_message
from robot_interfaces.msg import CommandResult, RobotStatus

from db_logger.decoding import decode_records, KIND_COMMAND, KIND_STATUS
from db_logger.journal import Journal
from db_logger.rows import CommandRow, sql_time
from db_logger.decoding import Batch
from db_logger.store import LogStore
from db_logger.writer import BatchWriter
from logger_database import database_config, kill_connections
from robot_db_testing.ros_client import wait_until

RECEIVED = 1768197672.0


def command_bytes(command_id: str, i: int, serial: str = 'SN-W') -> bytes:
    msg = CommandResult(robot_serial=serial, command_id=command_id, command_type='Velocity',
                        payload_json='{"linear": 0.5}', result='Success', message=f'#{i}')
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(RECEIVED), i * 1000000
    return bytes(serialize_message(msg))


def status_bytes(serial: str, i: int) -> bytes:
    msg = RobotStatus(robot_serial=serial, model_type='EP01', status='Active',
                      ip_address='192.0.2.7', battery_percent=100.0 - i)
    msg.header.stamp.sec = int(RECEIVED) + i
    return bytes(serialize_message(msg))


def command_row(msg_uuid: str, **changes) -> CommandRow:
    stamp = sql_time(int(RECEIVED * 1000))
    row = CommandRow(msg_uuid, 'SN-W', 'Move', '{"x": 1}', 'Success', 'ok', stamp, stamp)
    return row._replace(**changes)


def run_until_acked(writer: BatchWriter, journal: Journal, timeout: float = 15.0) -> None:
    writer.start()
    deadline = time.monotonic() + timeout
    while journal.acked < journal.last_seq and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.stop()
    assert journal.acked == journal.last_seq, 'the writer did not drain the journal in time'


class Recorder:
    def __init__(self):
        self.lines = []

    def __call__(self, level, line):
        self.lines.append((level, line))


def test_the_journal_is_committed_in_order_then_acknowledged(fresh_db, tmp_path):
    journal = Journal(tmp_path / 'journal')
    ids = [str(uuid.uuid4()) for _ in range(1200)]
    for i, command_id in enumerate(ids):
        journal.append(KIND_COMMAND, command_bytes(command_id, i), RECEIVED)
    log = Recorder()
    writer = BatchWriter(Journal(tmp_path / 'journal', appender=False),
                         LogStore(database_config(fresh_db)), decode_records, log, batch_size=500)
    run_until_acked(writer, journal)
    stored = fresh_db.query('SELECT msg_uuid FROM CommandLogs ORDER BY command_id')
    assert [r[0] for r in stored] == ids  # every one, once, in journal order
    assert writer.stats.rows_committed == 1200 and writer.stats.batches_committed == 3
    assert log.lines[0][1].startswith('connected to robot_user@')
    # a second writer on the same journal finds nothing left to do
    again = BatchWriter(Journal(tmp_path / 'journal', appender=False),
                        LogStore(database_config(fresh_db)), decode_records, Recorder())
    run_until_acked(again, journal)
    assert again.stats.rows_committed == 0


def steady_stream(fresh_db, tmp_path, **writer_args):
    """300 rows at one per 2 ms (never a full batch): (the writer, seconds until all acked)."""
    journal = Journal(tmp_path / 'journal')
    writer = BatchWriter(Journal(tmp_path / 'journal', appender=False),
                         LogStore(database_config(fresh_db)), decode_records, Recorder(),
                         **writer_args)
    writer.start()
    began = time.monotonic()
    for i in range(300):
        journal.append(KIND_COMMAND, command_bytes(str(uuid.uuid4()), i), RECEIVED)
        time.sleep(0.002)
    assert wait_until(lambda: journal.acked == journal.last_seq, 15)
    elapsed = time.monotonic() - began
    writer.stop()
    assert fresh_db.query('SELECT COUNT(*) FROM CommandLogs')[0][0] == 300
    return writer, elapsed


def test_a_steady_stream_commits_once_per_flush_interval_in_fuller_batches(fresh_db, tmp_path):
    # a commit costs the writer and the server as much as tens of rows: a stream that never
    # fills a batch must not be committed a few rows at a time as fast as commits return
    writer, elapsed = steady_stream(fresh_db, tmp_path, batch_size=500, flush_interval=0.05)
    assert writer.stats.batches_committed <= elapsed / 0.05 + 2, (
        writer.stats.batches_committed, elapsed)


def test_by_default_a_steady_stream_commits_at_most_ten_times_a_second(fresh_db, tmp_path):
    # about 1 ms of CPU per commit (writer and server): at 50 commits a second that was most
    # of the logger's CPU per message below 5,000 msg/s (bench/README.md, issue 12)
    from db_logger.settings import PARAMETERS
    writer, elapsed = steady_stream(fresh_db, tmp_path)
    assert writer.flush_interval == PARAMETERS['flush_interval'][0]  # the node's default too
    assert writer.stats.batches_committed <= elapsed / 0.1 + 2, (
        writer.stats.batches_committed, elapsed)


def test_a_row_the_database_refuses_is_set_aside_and_the_rows_behind_it_land(
        fresh_db, tmp_path):
    journal = Journal(tmp_path / 'journal')
    for i in range(4):
        journal.append(KIND_COMMAND, b'', RECEIVED)
    # rows.py makes every message fit; these skip it, as a schema change might
    rows = [command_row('ok-1'), command_row('too-long', result='R' * 30),
            command_row('not-json', payload='linear=0.5'), command_row('ok-2')]
    log = Recorder()
    writer = BatchWriter(Journal(tmp_path / 'journal', appender=False),
                         LogStore(database_config(fresh_db)),
                         lambda records: (Batch(commands=rows), [], []), log)
    run_until_acked(writer, journal)
    stored = dict(fresh_db.query('SELECT msg_uuid, payload FROM CommandLogs'))
    assert stored.keys() == {'ok-1', 'not-json', 'ok-2'}
    assert json.loads(stored['not-json']) == {'raw': 'linear=0.5'}
    assert writer.stats.rows_rejected == 1
    kept = [json.loads(line) for line in
            (tmp_path / 'journal' / 'rejected.jsonl').read_text().splitlines()]
    assert len(kept) == 1 and kept[0]['CommandRow']['msg_uuid'] == 'too-long'
    assert "Data too long for column 'result'" in kept[0]['error']
    # the batch refused, then each row in batch order: too-long set aside, not-json wrapped
    said = [(level, line.split(' (')[0]) for level, line in log.lines[1:]]
    assert said == [('warn', 'the database refused a batch'),
                    ('error', 'could not store a message'),
                    ('warn', 'payload_json of command not-json refused by the database')]


def test_a_record_that_does_not_decode_is_set_aside_not_dropped(fresh_db, tmp_path):
    journal = Journal(tmp_path / 'journal')
    journal.append(KIND_COMMAND, command_bytes('good-1', 1), RECEIVED)
    journal.append(KIND_COMMAND, b'\x00\x01\x00\x00garbage', RECEIVED)
    journal.append(KIND_COMMAND, command_bytes('good-2', 2), RECEIVED)
    writer = BatchWriter(Journal(tmp_path / 'journal', appender=False),
                         LogStore(database_config(fresh_db)), decode_records, Recorder())
    run_until_acked(writer, journal)
    assert sorted(r[0] for r in fresh_db.query('SELECT msg_uuid FROM CommandLogs')) == \
        ['good-1', 'good-2']
    kept = json.loads((tmp_path / 'journal' / 'rejected.jsonl').read_text())
    assert kept['seq'] == 2 and bytes.fromhex(kept['payload_hex']).endswith(b'garbage')
    assert 'CommandResult: truncated' in kept['error']


def test_robot_ids_stay_dense_however_many_statuses_arrive(fresh_db, tmp_path):
    journal = Journal(tmp_path / 'journal')

    def rounds(serials, first: int, count: int) -> None:
        for i in range(first, first + count):
            for serial in serials:
                journal.append(KIND_STATUS, status_bytes(serial, i), RECEIVED + i)
                journal.append(KIND_COMMAND, command_bytes(str(uuid.uuid4()), i, serial),
                               RECEIVED + i)

    def drain() -> None:
        # batches of 7: many transactions, each with statuses of several robots
        run_until_acked(BatchWriter(Journal(tmp_path / 'journal', appender=False),
                                    LogStore(database_config(fresh_db)), decode_records,
                                    Recorder(), batch_size=7), journal)
    rounds(['SN-A', 'SN-B'], 0, 40)
    drain()
    # a third robot appears later; a second writer knows no robot_id yet (as after a
    # reconnect or a restart)
    rounds(['SN-A', 'SN-B', 'SN-C'], 40, 40)
    drain()
    assert fresh_db.query('SELECT serial, robot_id, battery_percent FROM Robots '
                          'ORDER BY robot_id') == [('SN-A', 1, 21.0), ('SN-B', 2, 21.0),
                                                   ('SN-C', 3, 21.0)]
    assert fresh_db.query(
        "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = 'Robots'", (fresh_db.name,)) == [(4,)]


def test_reconnects_count_connections_made_again_not_the_first(fresh_db, tmp_path):
    journal = Journal(tmp_path / 'journal')
    journal.append(KIND_COMMAND, command_bytes('before', 1), RECEIVED)
    writer = BatchWriter(Journal(tmp_path / 'journal', appender=False),
                         LogStore(database_config(fresh_db)), decode_records, Recorder(),
                         backoff=(0.05, 0.2))
    writer.start()
    try:
        assert wait_until(lambda: journal.acked == journal.last_seq, 15.0)
        assert (writer.stats.connected, writer.stats.reconnects) == (True, 0)
        assert kill_connections(fresh_db) == 1
        journal.append(KIND_COMMAND, command_bytes('after', 2), RECEIVED)
        assert wait_until(lambda: journal.acked == journal.last_seq, 15.0)
        assert (writer.stats.connected, writer.stats.reconnects) == (True, 1)
    finally:
        writer.stop()
    assert sorted(r[0] for r in fresh_db.query('SELECT msg_uuid FROM CommandLogs')) == \
        ['after', 'before']
