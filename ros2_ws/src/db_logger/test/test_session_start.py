"""StartSession for a robot not recorded yet: it waits, bounded, for the robot's first status."""

import itertools
import threading
import time
import uuid

import pytest
from robot_interfaces.srv import StartSession

from db_logger.sessions import Outcome, start_once_reported
from robot_db_testing.ros_client import wait_until

UNREPORTED = Outcome(False, "robot 'SN1' has not reported yet", unreported=True)


class Attempts:
    """Answers in turn (the last one again and again), counting the calls."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.outcomes[min(self.calls, len(self.outcomes)) - 1]


def test_a_known_robot_or_another_refusal_is_answered_at_once():
    for outcome in (Outcome(True, 'session 1 started', 1), Outcome(False, "unknown user 'x'")):
        start = Attempts(outcome)
        assert start_once_reported(start, lambda: 0, 60.0, threading.Event()) == outcome
        assert start.calls == 1


def test_start_is_tried_again_after_each_commit_until_the_robot_has_reported():
    acked = Attempts(0, 0, 0, 5, 5, 9)  # looked at in turn: the writer commits 5, then 9
    start = Attempts(UNREPORTED, UNREPORTED, Outcome(True, 'session 1 started', 1))
    outcome = start_once_reported(start, acked, 60.0, threading.Event(), poll=0.001)
    assert (outcome.success, start.calls) == (True, 3)


def test_a_robot_that_never_reports_is_refused_after_the_wait_saying_so():
    start = Attempts(UNREPORTED)
    outcome = start_once_reported(start, lambda: 0, 0.2, threading.Event(), poll=0.01)
    assert outcome == Outcome(False, "robot 'SN1' has not reported yet (waited 0.2 s for its "
                                     'first status)', unreported=True)
    assert start.calls == 1  # nothing was committed meanwhile: nothing to look at again


def test_under_steady_ingest_tries_are_paced_by_the_poll_not_by_each_commit():
    commits = itertools.count()  # other robots' messages: the acknowledgement always moves
    start = Attempts(UNREPORTED)
    outcome = start_once_reported(start, lambda: next(commits), 0.2, threading.Event(),
                                  poll=0.05)
    assert outcome.unreported
    assert start.calls <= 0.2 / 0.05 + 1  # one SQL try per poll at most, not a busy loop


def test_a_shutdown_cuts_the_wait_short():
    stopping = threading.Event()
    stopping.set()
    outcome = start_once_reported(Attempts(UNREPORTED), lambda: 0, 60.0, stopping)
    assert outcome == Outcome(False, 'db_logger is shutting down')


def add_admin(db):
    db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")


@pytest.mark.parametrize('attempt', range(5))
def test_a_session_for_a_robot_just_started_waits_for_its_first_status(
        attempt, fresh_db, start_logger, nodes, ros_client):
    """scripts/run.sh's first run: the robot is in the graph, not yet in Robots."""
    add_admin(fresh_db)
    namespace = 'ep_' + uuid.uuid4().hex[:8]
    start_logger(fresh_db, '-p', 'discovery_period:=1.0')  # config/pipeline.yaml's period
    nodes('rm_driver', 'rm_driver', '-r', f'__ns:=/{namespace}', '-p', 'backend:=sim')
    assert wait_until(lambda: ros_client.node.count_publishers(f'/{namespace}/status') > 0,
                      30.0)
    started = ros_client.call(StartSession, '/session/start', StartSession.Request(
        user_id='test_admin', robot_serial=f'SIM-{namespace}', note=f'attempt {attempt}'),
        timeout=30.0)
    assert started.success, started.message
    assert fresh_db.query('SELECT r.serial FROM Sessions s JOIN Robots r USING (robot_id) '
                          'WHERE s.session_id = %s', (started.session_id,)) == \
        [(f'SIM-{namespace}',)]


def test_a_robot_that_never_reported_is_refused_after_the_bounded_wait(
        fresh_db, start_logger, ros_client):
    add_admin(fresh_db)
    logger = start_logger(fresh_db, '-p', 'session_start_wait:=1.5')

    def start():
        return ros_client.call(StartSession, '/session/start', StartSession.Request(
            user_id='test_admin', robot_serial='SN-NEVER'), timeout=30.0)
    first = start()  # the service is known from here on
    began = time.monotonic()
    second = start()
    assert time.monotonic() - began >= 1.5
    for refused in (first, second):
        assert (refused.success, refused.session_id) == (False, 0)
        assert refused.message == \
            "robot 'SN-NEVER' has not reported yet (waited 1.5 s for its first status)"
    assert logger.alive()
