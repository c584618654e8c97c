"""db_logger stopped by every signal combination scripts, CI and `docker stop` produce.

Each ends the node with status 0, a log free of tracebacks, no writer process left
behind, and nothing it journalled lost: what it received and had not committed yet
lands after a restart, from the journal alone.
"""

import os
import signal
import time

import psutil
import pytest

from db_logger.decoding import KIND_COMMAND
from db_logger.journal import Journal
from test_logger_node import assert_stored_once, wait_count
from robot_db_testing.processes import BURST_EXIT_CODES, signal_burst
from robot_db_testing.ros_client import wait_until

SEQUENCES = {
    'sigint': [signal.SIGINT],
    'sigint_twice': [signal.SIGINT, signal.SIGINT],
    'sigterm': [signal.SIGTERM],
    'sigint_then_sigterm': [signal.SIGINT, signal.SIGTERM],
    'burst': [],  # thousands of both, back to back: signal_burst
}
COMMANDS = 200


def journalled_commands(journal_dir) -> int:
    """Commands in the journal not yet acknowledged (read as a second reader would)."""
    records = Journal(journal_dir, appender=False).read(100000)
    return sum(1 for r in records if r.kind == KIND_COMMAND)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize('target', ['group', 'node'])
@pytest.mark.parametrize('sequence', sorted(SEQUENCES))
def test_any_signals_stop_the_logger_cleanly_losing_nothing(
        sequence, target, fresh_db, start_logger, robot_factory, ros_client, tmp_path):
    logger = start_logger(fresh_db, tag='-first')
    robot = robot_factory('/ep01', 'SN-STOP')
    robot.status('Active')
    assert wait_count(fresh_db, 'SELECT COUNT(*) FROM Robots', 1) == 1
    writer = psutil.Process(logger.pid).children()
    assert len(writer) == 1, 'the writer process'
    # hold CommandLogs: what arrives now is journalled, not committed, at the signal
    blocker = fresh_db.connect(migrator=True)  # LOCK TABLES needs more than DML
    blocker.cursor().execute('LOCK TABLES CommandLogs WRITE')
    try:
        ids = [robot.result(command_type='Velocity').command_id for _ in range(COMMANDS)]
        assert wait_until(lambda: journalled_commands(tmp_path / 'journal') == COMMANDS, 15.0)
        if sequence == 'burst':
            signal_burst([logger.pid], group=target == 'group')
        for signum in SEQUENCES[sequence]:
            if target == 'group':
                os.killpg(logger.pid, signum)
            else:
                os.kill(logger.pid, signum)
            time.sleep(0.1)  # the next one lands while the node shuts down
    finally:
        blocker.close()  # the writer's batch goes through; it stops after it
    exit_codes = BURST_EXIT_CODES if sequence == 'burst' else (0,)
    assert logger.popen.wait(30) in exit_codes, logger.output()
    output = logger.output()
    for word in ('Traceback', 'KeyboardInterrupt', 'Error', '[WARN]', '[ERROR]'):
        assert word not in output, output
    assert wait_until(lambda: gone(writer[0]), 5.0)

    # the publisher gone, only the journal can bring back what was not committed
    ros_client.node.destroy_publisher(robot.result_pub)
    start_logger(fresh_db, tag='-second')
    assert_stored_once(fresh_db, ids)
