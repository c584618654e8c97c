"""The `scenario` executable against the sim driver and a fake session service
(db_logger serves the real one)."""

from __future__ import annotations

import sys
from typing import List

from robot_interfaces.srv import EndSession, StartSession
from robot_db_testing.ros_client import wait_until

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from driver_process_helpers import Driver  # noqa: E402

SESSION_ID = 42


class FakeSessions:
    """/session/start and /session/end as db_logger answers them, recording requests."""

    def __init__(self, ros_client, accept: bool = True) -> None:
        self.starts: List[StartSession.Request] = []
        self.ends: List[EndSession.Request] = []
        self.accept = accept
        ros_client.node.create_service(StartSession, '/session/start', self._start)
        ros_client.node.create_service(EndSession, '/session/end', self._end)

    def _start(self, request, response):
        self.starts.append(request)
        response.success = self.accept
        response.session_id = SESSION_ID if self.accept else 0
        response.message = '' if self.accept else f'unknown user {request.user_id!r}'
        return response

    def _end(self, request, response):
        self.ends.append(request)
        response.success = True
        response.session_id = request.session_id
        return response


def run_scenario(nodes, *params: str, tag: str = ''):
    args = []
    for param in params:
        args += ['-p', param]
    process = nodes('rm_driver', 'scenario', *args, tag=tag)
    return process.popen.wait(40), process.output()


def test_scenario_starts_a_session_moves_one_metre_and_ends_it(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    sessions = FakeSessions(ros_client)
    code, output = run_scenario(nodes, f'robot:=/{driver.namespace}', 'timeout:=10.0')
    assert code == 0, output
    steps = [line for line in output.splitlines() if line.startswith('[')]
    assert [s[:5] for s in steps] == ['[1/4]', '[2/4]', '[3/4]', '[4/4]']
    assert f'SIM-{driver.namespace}' in steps[0]
    assert len(sessions.starts) == 1 and len(sessions.ends) == 1
    start = sessions.starts[0]
    assert (start.user_id, start.robot_serial) == ('test_admin', f'SIM-{driver.namespace}')
    assert sessions.ends[0].session_id == SESSION_ID
    assert wait_until(lambda: driver.results_of('Move'), 5)
    assert driver.results_of('Move')[0].result == 'Success'
    assert abs(driver.x() - 1.0) < 0.02


def test_scenario_fails_clearly_when_the_session_is_refused(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    FakeSessions(ros_client, accept=False)
    code, output = run_scenario(nodes, f'robot:=/{driver.namespace}', 'user_id:=nobody',
                                'timeout:=10.0')
    assert code == 1
    assert "scenario failed: session refused: unknown user 'nobody'" in output
    assert not driver.results_of('Move')


def test_scenario_fails_clearly_without_the_session_service(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    code, output = run_scenario(nodes, f'robot:=/{driver.namespace}', 'timeout:=4.0')
    assert code == 1
    assert 'scenario failed: service /session/start not available after 4 s' in output


def test_scenario_fails_clearly_without_a_robot(nodes):
    code, output = run_scenario(nodes, 'robot:=/nobody_here', 'timeout:=1.0')
    assert code == 1
    assert 'scenario failed: no status from robot /nobody_here within 1 s' in output
