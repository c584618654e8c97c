"""The whole pipeline under test: scripts/run_pipeline.py against a test database."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict

import yaml

from robot_db_testing.processes import NodeProcess, ros_env
from robot_db_testing.ros_client import wait_until
from tests.support import REPO_ROOT

SUPERVISOR = REPO_ROOT / 'scripts' / 'run_pipeline.py'
STARTED = re.compile(r'started (\S+) pid (\d+)')


def params_file_for(db, tmp_path: Path) -> Path:
    """config/pipeline.yaml with db_logger pointed at db and a journal in tmp_path."""
    params = yaml.safe_load((REPO_ROOT / 'config' / 'pipeline.yaml').read_text())
    logger = params['db_logger']['ros__parameters']
    logger['db'].update(name=db.name, user=db.app.user, password_file=str(db.app.password_file))
    logger['journal_dir'] = str(tmp_path / 'journal')
    path = tmp_path / 'pipeline.yaml'
    path.write_text(yaml.safe_dump(params))
    return path


def start_supervisor(tmp_path: Path, *arguments: str, env=None) -> NodeProcess:
    # --stop-timeout below NodeProcess.stop's 10 s: the supervisor ends its children
    # itself before the test would kill it.
    return NodeProcess([sys.executable, str(SUPERVISOR), '--stop-timeout', '5', *arguments],
                       tmp_path / 'logs' / 'run_pipeline.log', env=env or ros_env())


def start_pipeline(db, tmp_path: Path, *arguments: str) -> NodeProcess:
    """The supervisor with the repo's parameters, its logger writing to db."""
    return start_supervisor(tmp_path, f'params_file:={params_file_for(db, tmp_path)}',
                            f'db_host:={db.app.host}', f'db_port:={db.app.port}', *arguments)


def started_children(supervisor: NodeProcess, count: int, timeout: float = 20.0) -> Dict[str, int]:
    """{label: pid} once the supervisor has reported `count` children started."""
    assert wait_until(lambda: len(STARTED.findall(supervisor.output())) >= count, timeout), \
        supervisor.output()
    return {label: int(pid) for label, pid in STARTED.findall(supervisor.output())}
