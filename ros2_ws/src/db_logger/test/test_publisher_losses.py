"""Counting what publishers sent and the logger never received (no graph, no database)."""

import pytest

from db_logger.decoding import decode_records, KIND_LOSS
from db_logger.journal import Record
from db_logger.publisher_losses import encode_lost, Lost, parse_lost, PublisherLosses

A, B = b'\x01' * 16, b'\x02' * 16  # two publishers' gids


def observe(losses, gid, numbers, stream='command_result', namespace='/ep01', at=100.0):
    for number in numbers:
        losses.observe(namespace, stream, gid, number, at)


def test_a_gap_in_one_publishers_numbers_is_counted_once():
    losses = PublisherLosses()
    observe(losses, A, [1, 2, 3, 7, 8, 12])
    assert losses.totals == {('/ep01', 'command_result'): 3 + 3}
    assert losses.take() == [Lost('/ep01', 'command_result', 6, 100.0)]
    assert losses.take() == []  # reported once
    observe(losses, A, [13, 15], at=200.0)
    assert losses.take() == [Lost('/ep01', 'command_result', 1, 200.0)]
    assert losses.total() == 7


def test_publishers_interleaved_on_one_topic_each_keep_their_own_numbers():
    losses = PublisherLosses()
    for number in range(1, 6):
        observe(losses, A, [number])
        observe(losses, B, [number])
    assert losses.total() == 0
    observe(losses, B, [9])
    assert losses.totals == {('/ep01', 'command_result'): 3}


def test_the_first_sample_of_a_publisher_starts_its_count():
    # what it sent before the logger matched it is not the logger's loss (a late joiner)
    losses = PublisherLosses()
    observe(losses, A, [500, 501])
    assert losses.total() == 0


def test_a_lower_number_is_a_new_publisher_known_by_its_topic():
    # Jazzy's rclpy gives no gid: the topic stands for its one publisher, and a driver
    # that restarts numbers from 1 again
    losses = PublisherLosses()
    observe(losses, '/ep01/command_result', [1, 2, 3, 1, 2, 5])
    assert losses.total() == 2


def test_the_first_gap_of_a_report_dates_it_and_streams_are_kept_apart():
    losses = PublisherLosses()
    losses.observe('/ep01', 'odom', A, 1, 10.0)
    losses.observe('/ep01', 'odom', A, 3, 11.0)
    losses.observe('/ep01', 'odom', A, 6, 12.0)
    losses.observe('/ep02', 'status', B, 1, 10.0)
    losses.observe('/ep02', 'status', B, 4, 13.0)
    assert losses.take() == [Lost('/ep01', 'odom', 3, 11.0), Lost('/ep02', 'status', 2, 13.0)]


def test_samples_of_no_known_publisher_or_number_are_said_uncounted_not_lost():
    losses = PublisherLosses()
    losses.observe('/ep01', 'odom', None, 7, 1.0)  # a shared topic, no gid
    losses.observe('/ep01', 'odom', A, None, 1.0)  # an RMW that does not number
    assert losses.uncounted == 2 and losses.total() == 0


def test_a_loss_record_round_trips_through_the_journal_decoder():
    payload = encode_lost('3JKCK980030E3K'.encode(), 'command_result', 4711)
    row = parse_lost(payload, 1700000000.25)
    assert row == ('3JKCK980030E3K', 'command_result', '2023-11-14 22:13:20.250000', 4711)
    batch, warnings, undecodable = decode_records([Record(1, 1700000000.25, KIND_LOSS, payload)])
    assert batch.losses == [row] and not warnings and not undecodable
    assert batch.serials() == ['3JKCK980030E3K']


def test_a_broken_loss_record_is_kept_aside_with_the_reason():
    batch, _, undecodable = decode_records([Record(1, 1.0, KIND_LOSS, b'\x03SN1\x01')])
    assert not batch.losses
    assert [why for _, why in undecodable] == ['does not decode: loss record of 5 bytes is '
                                               'too short']
    with pytest.raises(ValueError, match='too short'):
        parse_lost(b'', 1.0)
