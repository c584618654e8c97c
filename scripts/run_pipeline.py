#!/usr/bin/env python3
"""Start the pipeline without `ros2 launch`: the same nodes, arguments and checks.

    source scripts/env.sh
    python scripts/run_pipeline.py                                  # sim robot /robot + db_logger
    python scripts/run_pipeline.py robots:=ep01,ep02 logger:=false
    python scripts/run_pipeline.py backend:=sdk robots:=ep01=3JKCK980030E3K db_host:=10.0.0.5
    python scripts/run_pipeline.py --dry-run robots:=ep01           # print the commands only

The arguments are launch/pipeline.launch.py's (`name:=value`), parsed by the same
module (launch/pipeline_args.py). Each node is the installed executable
(ros2_ws/install/<pkg>/lib/<pkg>/<exe>, or under $ROBOT_DB_INSTALL) started with
`--ros-args --params-file <params_file>` plus the overrides, in this environment
with DDS kept on this machine unless ROS_AUTOMATIC_DISCOVERY_RANGE says otherwise.

Supervised: Ctrl-C or SIGTERM stops every node (SIGINT, then SIGKILL after
--stop-timeout seconds) and exits 0; a node that exits on its own stops the others
and the exit status is 1, naming it. Bad arguments exit 2 before anything starts.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
PROG = 'run_pipeline'
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_pipeline_args():
    """Import launch/pipeline_args.py by path (launch/ is not a package: see its docstring)."""
    name = 'robot_db_pipeline_args'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO_ROOT / 'launch' / 'pipeline_args.py')
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while defining
        spec.loader.exec_module(module)
    return sys.modules[name]


pipeline_args = _load_pipeline_args()


def install_dir() -> Path:
    return Path(os.environ.get('ROBOT_DB_INSTALL', REPO_ROOT / 'ros2_ws' / 'install'))


@dataclass(frozen=True)
class NodeCommand:
    """One node to start: a name for messages, and its command line."""

    label: str
    argv: List[str]


def yaml_value(value: Any) -> str:
    """A -p value as YAML, so a serial such as 1234 stays a string."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def ros_args(node_name: str, params_file: Path, overrides: Mapping[str, Any],
             log_level: str, namespace: Optional[str] = None) -> List[str]:
    """The --ros-args block launch_ros builds for a Node with these settings."""
    argv = ['--ros-args', '-r', f'__node:={node_name}']
    if namespace:
        argv += ['-r', f'__ns:={namespace}']
    argv += ['--params-file', str(params_file)]
    for name, value in overrides.items():
        argv += ['-p', f'{name}:={yaml_value(value)}']
    return argv + ['--log-level', log_level]


def node_commands(args, install: Path) -> List[NodeCommand]:
    """The nodes pipeline.launch.py starts for these arguments, in start order."""
    commands: List[NodeCommand] = []
    if args.logger:
        exe = install / 'db_logger' / 'lib' / 'db_logger' / 'db_logger'
        commands.append(NodeCommand('/db_logger', [str(exe)] + ros_args(
            'db_logger', args.params_file, pipeline_args.logger_parameters(args),
            args.log_level)))
    exe = install / 'rm_driver' / 'lib' / 'rm_driver' / 'rm_driver'
    for robot in args.robots:
        commands.append(NodeCommand(f'{robot.namespace}/rm_driver', [str(exe)] + ros_args(
            'rm_driver', args.params_file, pipeline_args.driver_parameters(args, robot),
            args.log_level, namespace=robot.namespace)))
    return commands


def child_environment(environ: Mapping[str, str]) -> Dict[str, str]:
    """The caller's environment (ROS_DOMAIN_ID included) with DDS kept local by default."""
    env = dict(environ)
    env.update(pipeline_args.dds_environment(environ))
    env.setdefault('PYTHONUNBUFFERED', '1')  # node logs reach the terminal as they happen
    return env


def _end_with_parent() -> None:
    """In the child before exec: SIGTERM it if the supervisor dies (even by SIGKILL).

    Without this, a supervisor killed outright would leave its nodes running.
    Linux only; elsewhere the children simply outlive a killed supervisor.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Supervisor:
    """Runs the children; stops them all on a signal or when one of them ends."""

    def __init__(self, commands: Sequence[NodeCommand], env: Mapping[str, str],
                 stop_timeout: float, wakeup: int):
        self.commands = list(commands)
        self._wakeup = wakeup  # readable once a signal has arrived (signal.set_wakeup_fd)
        self.env = dict(env)
        self.stop_timeout = stop_timeout
        self.children: List[Tuple[NodeCommand, subprocess.Popen]] = []  # start order
        # set by request_stop; a plain attribute, not a threading.Event: a signal handled
        # while another's handler is inside Event.set() would wait forever for its lock
        self._signal_name = ''

    def request_stop(self, signum: int, _frame=None) -> None:
        self._signal_name = signal.Signals(signum).name

    def run(self) -> int:
        for command in self.commands:
            if self._signal_name:
                break
            # Own session: a terminal's Ctrl-C reaches only us, and we stop the
            # children in order (drivers first, db_logger last).
            popen = subprocess.Popen(command.argv, env=self.env, start_new_session=True,
                                     preexec_fn=_end_with_parent)
            self.children.append((command, popen))
            print(f'{PROG}: started {command.label} pid {popen.pid}', flush=True)
        exit_code = 0
        while not self._signal_name:
            ended = [(c, p) for c, p in self.children if p.poll() is not None]
            if ended:
                command, popen = ended[0]
                print(f'{PROG}: {command.label} (pid {popen.pid}) exited unexpectedly '
                      f'with status {popen.returncode}; stopping the others',
                      file=sys.stderr, flush=True)
                exit_code = 1
                break
            # a signal ends the wait at once: its SIGINT reaches the nodes right after the
            # terminal's (launch's timing), not while they are tearing down
            select.select([self._wakeup], [], [], 0.1)
        if self._signal_name:
            print(f'{PROG}: {self._signal_name} received; stopping every node',
                  flush=True)
        self.stop_all()
        return exit_code

    def stop_all(self) -> None:
        """SIGINT every running child (a clean ROS shutdown), then SIGKILL the late ones."""
        running = [(c, p) for c, p in reversed(self.children) if p.poll() is None]
        for _command, popen in running:
            popen.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.stop_timeout
        for command, popen in running:
            try:
                popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f'{PROG}: {command.label} (pid {popen.pid}) ignored SIGINT for '
                      f'{self.stop_timeout:g} s; killing it', file=sys.stderr, flush=True)
                popen.kill()
                popen.wait()
        for command, popen in self.children:
            print(f'{PROG}: {command.label} stopped (status {popen.returncode})', flush=True)


def parse_command_line(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description='Start db_logger and one rm_driver per robot, supervised.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='launch arguments (as for launch/pipeline.launch.py):\n' + '\n'.join(
            f'  {name}:=  {description} (default: {default or "empty"})'
            for name, default, description in pipeline_args.ARGUMENTS))
    parser.add_argument('arguments', nargs='*', metavar='name:=value',
                        help='launch arguments, as for pipeline.launch.py')
    parser.add_argument('--dry-run', action='store_true',
                        help='print each node command and exit')
    parser.add_argument('--stop-timeout', type=float, default=10.0,
                        help='seconds a node gets to exit after SIGINT (default 10)')
    return parser.parse_args(argv)


def split_assignments(items: Sequence[str]) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(':=')
        if not sep or not name:
            raise pipeline_args.PipelineArgumentError(
                item, 'expected name:=value, e.g. robots:=ep01,ep02')
        values[name] = value
    return values


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = parse_command_line(sys.argv[1:] if argv is None else argv)
    try:
        args = pipeline_args.parse_pipeline_args(split_assignments(options.arguments))
    except pipeline_args.PipelineArgumentError as exc:
        print(f'{PROG}: error: {exc}', file=sys.stderr)
        return 2
    commands = node_commands(args, install_dir())
    if options.dry_run:
        for command in commands:
            print(' '.join(command.argv))
        return 0
    missing = [c.argv[0] for c in commands if not os.access(c.argv[0], os.X_OK)]
    if missing:
        print(f'{PROG}: error: {missing[0]} is not built: run scripts/setup.sh', file=sys.stderr)
        return 2
    print(f'{PROG}: {pipeline_args.describe(args)}', flush=True)
    wakeup, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.set_wakeup_fd(wakeup_w, warn_on_full_buffer=False)  # a burst may fill it
    supervisor = Supervisor(commands, child_environment(os.environ), options.stop_timeout,
                            wakeup)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    return supervisor.run()


if __name__ == '__main__':
    sys.exit(main())
