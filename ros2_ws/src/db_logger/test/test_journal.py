"""The journal keeps every appended record until it is acknowledged, across restarts."""

import os

import pytest

from db_logger.journal import Journal, JournalError


def payloads(records):
    return [r.payload for r in records]


def test_records_come_back_in_order_once(tmp_path):
    journal = Journal(tmp_path)
    for i in range(5):
        journal.append(2, f'm{i}'.encode(), 1000.0 + i)
    first = journal.read(3)
    assert [r.seq for r in first] == [1, 2, 3]
    assert payloads(first) == [b'm0', b'm1', b'm2']
    assert first[0].kind == 2 and first[0].received == 1000.0
    assert payloads(journal.read(10)) == [b'm3', b'm4']
    assert journal.read(10) == []
    assert journal.depth() == 5
    journal.ack(5)
    assert journal.depth() == 0
    journal.close()


def test_unacknowledged_records_survive_a_restart(tmp_path):
    journal = Journal(tmp_path)
    for i in range(6):
        journal.append(1, bytes([i]), 0.0)
    journal.read(6)
    journal.ack(2)
    journal.close()  # as good as a kill: every append was one write()

    again = Journal(tmp_path)
    assert again.depth() == 4
    assert [r.seq for r in again.read(100)] == [3, 4, 5, 6]
    assert again.append(1, b'new', 0.0) == 7
    again.close()


def test_a_torn_tail_is_cut_off_and_the_rest_kept(tmp_path):
    journal = Journal(tmp_path)
    journal.append(1, b'whole', 0.0)
    journal.append(1, b'also whole', 0.0)
    journal.close()
    segment = sorted(tmp_path.glob('segment-*.log'))[-1]
    with open(segment, 'ab') as f:
        f.write(b'\x30\x00\x00\x00\x01\x02')  # half a frame, as a power cut may leave
    again = Journal(tmp_path)
    assert payloads(again.read(10)) == [b'whole', b'also whole']
    assert again.append(1, b'next', 0.0) == 3
    assert payloads(again.read(10)) == [b'next']
    again.close()


def test_segments_rotate_and_are_deleted_once_acknowledged(tmp_path):
    journal = Journal(tmp_path, segment_bytes=200)
    for i in range(30):
        journal.append(3, b'x' * 40, 0.0)
    assert len(list(tmp_path.glob('segment-*.log'))) > 3
    records = journal.read(1000)
    assert [r.seq for r in records] == list(range(1, 31))
    journal.ack(30)
    assert len(list(tmp_path.glob('segment-*.log'))) == 1
    journal.append(3, b'after', 0.0)
    assert payloads(journal.read(10)) == [b'after']
    journal.close()


def test_reading_follows_appends_across_rotation(tmp_path):
    journal = Journal(tmp_path, segment_bytes=100)
    seen = []
    for i in range(50):
        journal.append(1, str(i).encode(), 0.0)
        if i % 7 == 0:
            seen += payloads(journal.read(3))
    seen += payloads(journal.read(1000))
    assert seen == [str(i).encode() for i in range(50)]
    journal.close()


def test_a_second_logger_on_the_same_journal_is_refused(tmp_path):
    journal = Journal(tmp_path)
    with pytest.raises(JournalError, match=f'in use by another db_logger \\(pid {os.getpid()}\\)'):
        Journal(tmp_path)
    journal.close()


def test_a_reader_elsewhere_follows_the_appender_through_the_files(tmp_path):
    appender = Journal(tmp_path, segment_bytes=120)
    reader = Journal(tmp_path, appender=False)  # as the writer process opens it
    assert reader.read(10) == []
    for i in range(20):
        appender.append(2, str(i).encode(), 0.0)
    got = reader.read(7)
    got += reader.read(100)
    assert payloads(got) == [str(i).encode() for i in range(20)]
    reader.ack(12)
    assert appender.acked == 12 and appender.depth() == 8
    again = Journal(tmp_path, appender=False)  # a restarted writer resumes after the ack
    assert [r.seq for r in again.read(100)] == list(range(13, 21))
    appender.close()


def test_an_idle_reader_polls_with_stats_and_still_sees_appends_and_new_segments(
        tmp_path, monkeypatch):
    # the writer process polls the journal every flush_interval while nothing comes: an open,
    # a read and a directory listing each time cost it more than the wake itself
    appender = Journal(tmp_path)
    reader = Journal(tmp_path, appender=False)
    appender.append(1, b'first', 0.0)
    assert payloads(reader.read(10)) == [b'first']
    looked = []
    for name in ('_read_segment', '_next_segment'):
        real = getattr(reader, name)
        monkeypatch.setattr(reader, name, lambda *a, real=real, name=name: (
            looked.append(name), real(*a))[1])

    def idle_for_a_minute():  # as if the last file came or went a minute ago
        old = os.stat(tmp_path).st_mtime_ns - 60 * 10**9
        os.utime(tmp_path, ns=(old, old))

    idle_for_a_minute()
    for _ in range(10):
        assert reader.read(10) == []
    assert len(looked) <= 2, looked  # the first poll reads and lists; the others see no change
    appender.append(1, b'grown', 0.0)
    assert payloads(reader.read(10)) == [b'grown']
    idle_for_a_minute()
    assert reader.read(10) == [] and reader.read(10) == []
    # a restarted appender whose last segment is full begins a new file: only the directory
    # tells, the segment being read stays as it was
    appender.close()
    appender = Journal(tmp_path, segment_bytes=50)  # the first segment holds 60 bytes
    appender.append(1, b'in a new segment', 0.0)
    assert len(list(tmp_path.glob('segment-*.log'))) == 2
    assert payloads(reader.read(10)) == [b'in a new segment']
    appender.close()
