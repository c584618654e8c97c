"""The manual's verification, end to end: pipeline processes, real DDS, real MariaDB.

What scripts/run.sh does on a fresh machine, asserted row by row: the robot
registered by serial, Active while it moves and Idle after, one Move command with
result Success in the session, one Goal event, the session ended.
"""

from __future__ import annotations

import json
import subprocess
import threading

from robot_db_testing.processes import executable, ros_env
from robot_db_testing.ros_client import wait_until
from tests.support.pipeline import start_pipeline, started_children


def add_admin(db) -> None:
    db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', '테스트관리자', "
             "'Admin')")


def run_scenario(robot: str, log_path) -> subprocess.Popen:
    log = open(log_path, 'w')
    return subprocess.Popen([str(executable('rm_driver', 'scenario')), '--robot', robot,
                             '--user-id', 'test_admin', '--distance', '1.0', '--speed', '0.5',
                             '--timeout', '30'], stdout=log, stderr=subprocess.STDOUT,
                            env=ros_env())


class StatusWatcher:
    """Polls a robot's Robots.status in a thread: what the database showed, in order."""

    def __init__(self, db, serial: str):
        self.db, self.serial = db, serial
        self.seen = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = self.db.connect()
        try:
            for _ in range(2000):  # 100 s at most
                if self._stop.wait(0.05):
                    return
                with conn.cursor() as cur:
                    cur.execute('SELECT status FROM Robots WHERE serial = %s', (self.serial,))
                    row = cur.fetchone()
                if row and (not self.seen or self.seen[-1] != row[0]):
                    self.seen.append(row[0])
        finally:
            conn.close()

    def stop(self) -> list:
        self._stop.set()
        self._thread.join(5)
        return self.seen


def session_rows(db, serial: str):
    (session_id, end_time), = db.query(
        'SELECT s.session_id, s.end_time FROM Sessions s JOIN Robots r USING (robot_id) '
        'WHERE r.serial = %s', (serial,))
    commands = db.query('SELECT command_type, result, payload FROM CommandLogs '
                        'WHERE session_id = %s', (session_id,))
    events = db.query('SELECT event_type FROM EventLogs WHERE session_id = %s', (session_id,))
    return session_id, end_time, commands, events


def test_the_manuals_scenario_lands_in_the_database(fresh_db, tmp_path):
    add_admin(fresh_db)
    pipeline = start_pipeline(fresh_db, tmp_path, 'robots:=ep01=3JKCK980030E3K')
    try:
        started_children(pipeline, 2)
        assert wait_until(lambda: fresh_db.query(
            "SELECT status FROM Robots WHERE serial = '3JKCK980030E3K'") == [('Idle',)],
            30.0, period=0.2), pipeline.output()

        watcher = StatusWatcher(fresh_db, '3JKCK980030E3K')
        scenario = run_scenario('/ep01', tmp_path / 'scenario.log')
        assert scenario.wait(90) == 0, (tmp_path / 'scenario.log').read_text()
        assert wait_until(lambda: watcher.seen[-1:] == ['Idle'], 10.0)
        seen = watcher.stop()
        assert seen[:3] == ['Idle', 'Active', 'Idle'], seen
        assert pipeline.alive(), pipeline.output()

        assert fresh_db.query('SELECT model_type, status FROM Robots WHERE serial = '
                              "'3JKCK980030E3K'") == [('EP01', 'Idle')]
        assert wait_until(lambda: session_rows(fresh_db, '3JKCK980030E3K')[3], 10.0)
        session_id, end_time, commands, events = session_rows(fresh_db, '3JKCK980030E3K')
        assert end_time is not None
        assert [(t, r) for t, r, _ in commands] == [('Move', 'Success')]
        assert json.loads(commands[0][2])['x'] == 1.0
        assert json.loads(commands[0][2])['xy_speed'] == 0.5
        assert events == [('Goal',)]
        # the scenario's lines name the session the database holds
        assert f'session {session_id} ended' in (tmp_path / 'scenario.log').read_text()
    finally:
        pipeline.stop()


def test_two_robots_at_once_each_in_its_own_session(fresh_db, tmp_path):
    add_admin(fresh_db)
    pipeline = start_pipeline(fresh_db, tmp_path, 'robots:=ep01=EP01SN,ep02=EP02SN')
    try:
        started_children(pipeline, 3)
        assert wait_until(lambda: fresh_db.query('SELECT COUNT(*) FROM Robots')[0][0] == 2,
                          30.0, period=0.2), pipeline.output()
        scenarios = [run_scenario(f'/{ns}', tmp_path / f'scenario-{ns}.log')
                     for ns in ('ep01', 'ep02')]
        for ns, scenario in zip(('ep01', 'ep02'), scenarios):
            assert scenario.wait(90) == 0, (tmp_path / f'scenario-{ns}.log').read_text()

        def both_logged():
            return all(session_rows(fresh_db, s)[3] for s in ('EP01SN', 'EP02SN'))
        assert wait_until(both_logged, 10.0)
        one, two = session_rows(fresh_db, 'EP01SN'), session_rows(fresh_db, 'EP02SN')
        assert one[0] != two[0]
        for session_id, end_time, commands, events in (one, two):
            assert end_time is not None
            assert [(t, r) for t, r, _ in commands] == [('Move', 'Success')]
            assert events == [('Goal',)]
        # every command row sits in the session of the robot that sent it
        assert fresh_db.query(
            'SELECT COUNT(*) FROM CommandLogs c JOIN Sessions s USING (session_id) '
            'WHERE c.robot_id <> s.robot_id')[0][0] == 0
        assert fresh_db.query('SELECT COUNT(*) FROM CommandLogs')[0][0] == 2
    finally:
        pipeline.stop()


def test_an_unreachable_database_at_start_leaves_the_drivers_running(fresh_db, tmp_path,
                                                                     ros_client):
    from robot_interfaces.msg import RobotStatus
    from robot_interfaces.qos import record_qos

    from robot_db_testing.database import free_port
    statuses = ros_client.collect(RobotStatus, '/ep01/status', record_qos(10))
    pipeline = start_pipeline(fresh_db, tmp_path, 'robots:=ep01=NODBSN',
                              f'db_port:={free_port()}')  # nothing listens there
    try:
        started_children(pipeline, 2)
        # the logger says so once per attempt and keeps trying; nobody is stopped
        assert wait_until(lambda: pipeline.output().count('retrying in') >= 2, 20.0), \
            pipeline.output()
        assert wait_until(lambda: len(statuses) >= 2, 15.0)
        assert pipeline.alive()
        assert 'Connection refused' in pipeline.output()
    finally:
        pipeline.stop()
