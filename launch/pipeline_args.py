"""The pipeline's launch arguments: parsed, checked and turned into node settings.

One implementation for both ways of starting the pipeline: launch/pipeline.launch.py
(`ros2 launch`) and scripts/run_pipeline.py (machines without `ros2 launch`). Plain
Python, no ROS import, so it is unit-tested anywhere. Both load this file by path
(the repo's launch/ folder must not become a package: it would shadow `launch`).

Arguments (all strings, as `name:=value` on the command line):

    backend      sim | sdk                                  (default sim)
    robots       name[=serial][,name[=serial]...]           (default robot)
    params_file  the parameter YAML                          (default config/pipeline.yaml)
    db_host      db_logger's db.host; empty = the YAML's     (default empty)
    db_port      db_logger's db.port; empty = the YAML's     (default empty)
    log_level    debug | info | warn | error | fatal         (default info)
    logger       true | false: start db_logger too           (default true)
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARAMS_FILE = REPO_ROOT / 'config' / 'pipeline.yaml'

BACKENDS = ('sim', 'sdk')
LOG_LEVELS = ('debug', 'info', 'warn', 'error', 'fatal')
TRUE_WORDS = ('true', 'yes', 'on', '1')
FALSE_WORDS = ('false', 'no', 'off', '0')

# Each robot name becomes a namespace: one ROS name token (no leading digit).
ROBOT_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# RoboMaster serials are upper-case alphanumerics (e.g. 3JKCK980030E3K); allow - and _.
ROBOT_SERIAL = re.compile(r'^[A-Za-z0-9_-]+$')

# (argument, default, description): the launch file declares exactly these.
ARGUMENTS: Tuple[Tuple[str, str, str], ...] = (
    ('backend', 'sim', 'rm_driver backend: sim (built-in simulator) or sdk (robomaster SDK)'),
    ('robots', 'robot', 'robots to drive, each a namespace, optionally with its serial: '
                        'ep01,ep02 or ep01=3JKCK980030E3K,ep02'),
    ('params_file', str(DEFAULT_PARAMS_FILE), 'parameter YAML for every node'),
    ('db_host', '', "db_logger's database host (empty: the params file's db.host)"),
    ('db_port', '', "db_logger's database port (empty: the params file's db.port)"),
    ('log_level', 'info', 'log level of every node: ' + ', '.join(LOG_LEVELS)),
    ('logger', 'true', 'start db_logger (false on a robot computer that only drives)'),
)
DEFAULTS: Dict[str, str] = {name: default for name, default, _ in ARGUMENTS}


class PipelineArgumentError(ValueError):
    """A launch argument has a bad value; the message names the argument and the value."""

    def __init__(self, argument: str, problem: str):
        super().__init__(f'{argument}: {problem}')
        self.argument = argument


@dataclass(frozen=True)
class RobotSpec:
    """One robot to drive: its name (the namespace) and its serial, when known."""

    name: str
    serial: str = ''

    @property
    def namespace(self) -> str:
        return '/' + self.name


@dataclass(frozen=True)
class PipelineArgs:
    """Checked arguments; None for db_host/db_port means 'keep the params file's value'."""

    backend: str
    robots: Tuple[RobotSpec, ...]
    params_file: Path
    db_host: Optional[str]
    db_port: Optional[int]
    log_level: str
    logger: bool


def parse_robots(text: str) -> Tuple[RobotSpec, ...]:
    """Parse `ep01,ep02=SERIAL` (commas or spaces between robots) into RobotSpecs."""
    items = [item for item in re.split(r'[,\s]+', text.strip()) if item]
    if not items:
        raise PipelineArgumentError(
            'robots', 'needs at least one robot name, e.g. robots:=ep01 or robots:=ep01,ep02')
    robots: List[RobotSpec] = []
    for item in items:
        name, has_serial, serial = item.partition('=')
        name = name.lstrip('/')
        if not ROBOT_NAME.match(name):
            where = f' (in {item!r})' if item != name else ''
            raise PipelineArgumentError(
                'robots', f'{name!r}{where} is not a valid namespace: use letters, digits '
                          'and _, not starting with a digit')
        if has_serial and not ROBOT_SERIAL.match(serial):
            raise PipelineArgumentError(
                'robots', f'{item!r}: the serial after = must be letters and digits '
                          '(e.g. ep01=3JKCK980030E3K)')
        robots.append(RobotSpec(name, serial))
    _refuse_duplicates('robot name', [r.name for r in robots])
    _refuse_duplicates('serial', [r.serial for r in robots if r.serial])
    return tuple(robots)


def _refuse_duplicates(what: str, values: List[str]) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise PipelineArgumentError('robots', f'{what} {value!r} appears twice')
        seen.add(value)


def parse_backend(text: str) -> str:
    backend = text.strip().lower()
    if backend not in BACKENDS:
        raise PipelineArgumentError('backend', f'{text!r} is not one of {", ".join(BACKENDS)}')
    return backend


def parse_bool(argument: str, text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise PipelineArgumentError(argument, f'{text!r} is not true or false')


def parse_log_level(text: str) -> str:
    level = text.strip().lower()
    if level == 'warning':  # Python's spelling; ROS says warn
        level = 'warn'
    if level not in LOG_LEVELS:
        raise PipelineArgumentError('log_level', f'{text!r} is not one of {", ".join(LOG_LEVELS)}')
    return level


def parse_db_host(text: str) -> Optional[str]:
    host = text.strip()
    if not host:
        return None
    if any(ch.isspace() for ch in host):
        raise PipelineArgumentError('db_host', f'{text!r} contains spaces')
    return host


def parse_db_port(text: str) -> Optional[int]:
    if not text.strip():
        return None
    try:
        port = int(text.strip())
    except ValueError:
        raise PipelineArgumentError('db_port', f'{text!r} is not a port number') from None
    if not 1 <= port <= 65535:
        raise PipelineArgumentError('db_port', f'{port} is outside 1-65535')
    return port


def parse_params_file(text: str, base_dir: Optional[Path] = None) -> Path:
    """The params file as an absolute path; a relative one is taken from base_dir (cwd)."""
    if not text.strip():
        raise PipelineArgumentError('params_file', 'is empty')
    path = Path(text.strip()).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.is_file():
        raise PipelineArgumentError('params_file', f'{str(path)!r} is not a file')
    return path


def command_line_names(argv: List[str]) -> List[str]:
    """The names of `name:=value` items on a command line (what `ros2 launch` got)."""
    return [item.split(':=', 1)[0] for item in argv if ':=' in item]


def check_names(names: List[str]) -> None:
    """Refuse names the pipeline does not declare: `ros2 launch` itself ignores them, so
    a mistyped robot:=ep01 would silently start the default robot."""
    unknown = sorted(set(names) - set(DEFAULTS))
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, DEFAULTS, n=1)
        hints.append(f'{name!r}' + (f' (did you mean {close[0]!r}?)' if close else ''))
    raise PipelineArgumentError(
        unknown[0], f'unknown argument{"s" if len(unknown) > 1 else ""} {", ".join(hints)}; '
                    f'the arguments are {", ".join(DEFAULTS)}')


def parse_pipeline_args(values: Mapping[str, str],
                        base_dir: Optional[Path] = None) -> PipelineArgs:
    """Check every argument (missing ones take DEFAULTS); unknown names are refused."""
    check_names(list(values))
    merged = {**DEFAULTS, **values}
    return PipelineArgs(
        backend=parse_backend(merged['backend']),
        robots=parse_robots(merged['robots']),
        params_file=parse_params_file(merged['params_file'], base_dir),
        db_host=parse_db_host(merged['db_host']),
        db_port=parse_db_port(merged['db_port']),
        log_level=parse_log_level(merged['log_level']),
        logger=parse_bool('logger', merged['logger']),
    )


def driver_parameters(args: PipelineArgs, robot: RobotSpec) -> Dict[str, Any]:
    """Parameters that override the params file for one rm_driver."""
    params: Dict[str, Any] = {'backend': args.backend}
    if robot.serial:
        params['robot_serial'] = robot.serial
    return params


def logger_parameters(args: PipelineArgs) -> Dict[str, Any]:
    """Parameters that override the params file for db_logger."""
    params: Dict[str, Any] = {}
    if args.db_host is not None:
        params['db.host'] = args.db_host
    if args.db_port is not None:
        params['db.port'] = args.db_port
    return params


def describe(args: PipelineArgs) -> str:
    """One line saying what will run, for the log."""
    robots = ', '.join(r.namespace + (f' ({r.serial})' if r.serial else '') for r in args.robots)
    logger = 'db_logger' if args.logger else 'no db_logger'
    return f'backend {args.backend}; robots {robots}; {logger}; params {args.params_file}'


def dds_environment(environ: Mapping[str, str]) -> Dict[str, str]:
    """Variables to add so DDS stays on this machine unless the caller chose otherwise.

    ROS_AUTOMATIC_DISCOVERY_RANGE (Jazzy and newer) defaults to LOCALHOST here;
    Humble only knows ROS_LOCALHOST_ONLY, so it gets that too, and only on Humble,
    where newer distributions would warn that it is deprecated.
    """
    added: Dict[str, str] = {}
    discovery = environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE') or 'LOCALHOST'
    if not environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE'):
        added['ROS_AUTOMATIC_DISCOVERY_RANGE'] = discovery
    if (environ.get('ROS_DISTRO') == 'humble' and discovery == 'LOCALHOST'
            and not environ.get('ROS_LOCALHOST_ONLY')):
        added['ROS_LOCALHOST_ONLY'] = '1'
    return added
