"""The pipeline's launch arguments (launch/pipeline_args.py) and the launch file's wiring.

The parser is plain Python and is tested here directly. The launch file needs
launch/launch_ros, which this machine lacks: its wiring is checked against small
stand-ins that record what it builds (tests/test_launch_pipeline.py runs it for real
where ROS 2 is fully installed), and `ros2 launch` itself is run where it exists.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from robot_db_testing.processes import ros_env
from tests.support import REPO_ROOT

LAUNCH_DIR = REPO_ROOT / 'launch'
LAUNCH_FILE = LAUNCH_DIR / 'pipeline.launch.py'
DEFAULT_PARAMS = REPO_ROOT / 'config' / 'pipeline.yaml'


def load_by_path(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The name the launch file and scripts/run_pipeline.py load it under: one module object.
pa = (sys.modules.get('robot_db_pipeline_args')
      or load_by_path('robot_db_pipeline_args', LAUNCH_DIR / 'pipeline_args.py'))


# --- robots -----------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('ep01', [('ep01', '')]),
    ('ep01,ep02', [('ep01', ''), ('ep02', '')]),
    ('ep01=3JKCK980030E3K,ep02', [('ep01', '3JKCK980030E3K'), ('ep02', '')]),
    (' ep01 , ep02=AB12 ', [('ep01', ''), ('ep02', 'AB12')]),
    ('ep01 ep02', [('ep01', ''), ('ep02', '')]),
    ('/ep01', [('ep01', '')]),
    ('robot', [('robot', '')]),
    ('ep01,', [('ep01', '')]),
])
def test_robots_parse_names_and_serials(text, expected):
    robots = pa.parse_robots(text)
    assert [(r.name, r.serial) for r in robots] == expected
    assert robots[0].namespace == '/' + expected[0][0]


@pytest.mark.parametrize('text, words', [
    ('', ['robots', 'at least one']),
    (' , ', ['robots', 'at least one']),
    ('1ep', ['robots', "'1ep'", 'namespace']),
    ('ep-01', ['robots', "'ep-01'"]),
    ('ep01=', ['robots', "'ep01='", 'serial']),
    ('ep01=AB;CD', ['robots', 'serial']),
    ('ep01=a/b', ['robots', 'serial']),
    ('ep01,ep01', ['robots', "'ep01'", 'twice']),
    ('ep01=X1,ep02=X1', ['robots', "'X1'", 'twice']),
])
def test_bad_robots_are_refused_naming_the_argument(text, words):
    with pytest.raises(pa.PipelineArgumentError) as info:
        pa.parse_robots(text)
    assert info.value.argument == 'robots'
    for word in words:
        assert word in str(info.value)


# --- the other arguments ------------------------------------------------------------

def test_defaults_give_one_sim_robot_with_the_logger():
    args = pa.parse_pipeline_args({})
    assert args.backend == 'sim'
    assert [r.namespace for r in args.robots] == ['/robot']
    assert args.params_file == DEFAULT_PARAMS
    assert (args.db_host, args.db_port, args.log_level, args.logger) == (None, None, 'info', True)


def test_every_argument_is_parsed():
    args = pa.parse_pipeline_args({
        'backend': 'SDK', 'robots': 'ep01=S1,ep02', 'params_file': str(DEFAULT_PARAMS),
        'db_host': 'db.lab', 'db_port': '3306', 'log_level': 'WARNING', 'logger': 'false'})
    assert args.backend == 'sdk'
    assert [(r.name, r.serial) for r in args.robots] == [('ep01', 'S1'), ('ep02', '')]
    assert (args.db_host, args.db_port, args.log_level, args.logger) == ('db.lab', 3306, 'warn',
                                                                         False)


@pytest.mark.parametrize('values, argument', [
    ({'backend': 'foo'}, 'backend'),
    ({'backend': ''}, 'backend'),
    ({'robots': ''}, 'robots'),
    ({'logger': 'maybe'}, 'logger'),
    ({'log_level': 'loud'}, 'log_level'),
    ({'db_port': 'abc'}, 'db_port'),
    ({'db_port': '0'}, 'db_port'),
    ({'db_port': '70000'}, 'db_port'),
    ({'db_host': 'a b'}, 'db_host'),
    ({'params_file': ''}, 'params_file'),
    ({'params_file': '/nonexistent/pipeline.yaml'}, 'params_file'),
    ({'colour': 'red'}, 'colour'),
])
def test_bad_values_name_their_argument(values, argument):
    with pytest.raises(pa.PipelineArgumentError) as info:
        pa.parse_pipeline_args(values)
    assert info.value.argument == argument
    assert str(info.value).startswith(argument + ':')


def test_a_mistyped_name_is_refused_with_the_name_it_resembles():
    with pytest.raises(pa.PipelineArgumentError) as info:
        pa.parse_pipeline_args({'robot': 'ep01', 'backend': 'sim'})
    assert str(info.value) == (
        "robot: unknown argument 'robot' (did you mean 'robots'?); the arguments are "
        "backend, robots, params_file, db_host, db_port, log_level, logger")


def test_a_relative_params_file_is_taken_from_the_base_dir(tmp_path):
    (tmp_path / 'p.yaml').write_text('{}\n')
    assert pa.parse_pipeline_args({'params_file': 'p.yaml'}, base_dir=tmp_path).params_file \
        == tmp_path / 'p.yaml'


def test_overrides_only_what_was_given():
    args = pa.parse_pipeline_args({'robots': 'ep01=S1,ep02', 'db_port': '3306'})
    assert pa.driver_parameters(args, args.robots[0]) == {'backend': 'sim', 'robot_serial': 'S1'}
    assert pa.driver_parameters(args, args.robots[1]) == {'backend': 'sim'}
    assert pa.logger_parameters(args) == {'db.port': 3306}
    assert pa.logger_parameters(pa.parse_pipeline_args({})) == {}


@pytest.mark.parametrize('environ, added', [
    ({}, {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}),
    ({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'}, {}),
    ({'ROS_DISTRO': 'humble'}, {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
                                'ROS_LOCALHOST_ONLY': '1'}),
    ({'ROS_DISTRO': 'humble', 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'}, {}),
    ({'ROS_DISTRO': 'jazzy', 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}, {}),
])
def test_dds_stays_local_unless_the_caller_widened_it(environ, added):
    assert pa.dds_environment(environ) == added


# --- the launch file, against stand-ins for launch and launch_ros -------------------

class Recorded:
    """Stands in for a launch action: keeps its arguments for the test to read."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def fake_launch_modules():
    """Modules shaped like launch/launch_ros, with the constructors' real signatures."""

    class LaunchDescription(Recorded):
        def __init__(self, initial_entities=None, *, deprecated_reason=None):
            super().__init__(initial_entities)
            self.entities = list(initial_entities or [])

    class DeclareLaunchArgument(Recorded):
        def __init__(self, name, *, default_value=None, description=None, choices=None,
                     **kwargs):
            super().__init__(name, default_value=default_value, description=description)
            self.name, self.default_value = name, default_value

    class OpaqueFunction(Recorded):
        def __init__(self, *, function, args=None, kwargs=None, **left_over):
            super().__init__(function=function)
            self.function = function

    class SetEnvironmentVariable(Recorded):
        def __init__(self, name, value, **kwargs):
            super().__init__(name, value)

    class LogInfo(Recorded):
        def __init__(self, *, msg, **kwargs):
            super().__init__(msg=msg)

    class LaunchConfiguration:
        def __init__(self, variable_name, *, default=None):
            self.variable_name = variable_name

        def perform(self, context):
            return context.launch_configurations[self.variable_name]

    class Node(Recorded):
        def __init__(self, *, executable, package=None, name=None, namespace=None,
                     exec_name=None, parameters=None, remappings=None, ros_arguments=None,
                     arguments=None, **kwargs):
            super().__init__(executable=executable, package=package, name=name,
                             namespace=namespace, parameters=parameters, arguments=arguments,
                             **kwargs)

    launch = types.ModuleType('launch')
    launch.LaunchDescription = LaunchDescription
    actions = types.ModuleType('launch.actions')
    for cls in (DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable, LogInfo):
        setattr(actions, cls.__name__, cls)
    substitutions = types.ModuleType('launch.substitutions')
    substitutions.LaunchConfiguration = LaunchConfiguration
    launch_ros = types.ModuleType('launch_ros')
    ros_actions = types.ModuleType('launch_ros.actions')
    ros_actions.Node = Node
    return {'launch': launch, 'launch.actions': actions, 'launch.substitutions': substitutions,
            'launch_ros': launch_ros, 'launch_ros.actions': ros_actions}


@pytest.fixture
def launch_file(monkeypatch):
    """The launch file's module, imported against the stand-ins."""
    for name, module in fake_launch_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location('pipeline_launch_under_test', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_opaque(launch_file, overrides, environ=None, monkeypatch=None, argv=None):
    """generate_launch_description(), then the OpaqueFunction with these argument values.

    Like `ros2 launch`, the context's argv holds the command line (default: overrides)."""
    description = launch_file.generate_launch_description()
    declared = {e.name: e.default_value for e in description.entities
                if type(e).__name__ == 'DeclareLaunchArgument'}
    opaque = [e for e in description.entities if type(e).__name__ == 'OpaqueFunction']
    assert len(opaque) == 1
    if argv is None:
        argv = [f'{name}:={value}' for name, value in overrides.items()]
    context = types.SimpleNamespace(launch_configurations={**declared, **overrides},
                                    argv=argv)
    return declared, opaque[0].function(context)


def nodes_of(actions):
    return [a for a in actions if type(a).__name__ == 'Node']


def test_launch_file_declares_every_argument_with_its_default(launch_file):
    declared, _ = run_opaque(launch_file, {})
    assert declared == pa.DEFAULTS
    assert Path(declared['params_file']) == DEFAULT_PARAMS


def test_launch_file_starts_the_logger_and_one_driver_per_robot(launch_file):
    _, actions = run_opaque(launch_file, {'robots': 'ep01=3JKCK980030E3K,ep02',
                                          'db_host': 'db.lab', 'log_level': 'debug'})
    nodes = nodes_of(actions)
    assert [(n.kwargs['package'], n.kwargs['executable'], n.kwargs['name'],
             n.kwargs['namespace']) for n in nodes] == [
        ('db_logger', 'db_logger', 'db_logger', None),
        ('rm_driver', 'rm_driver', 'rm_driver', 'ep01'),
        ('rm_driver', 'rm_driver', 'rm_driver', 'ep02')]
    params = str(DEFAULT_PARAMS)
    assert nodes[0].kwargs['parameters'] == [params, {'db.host': 'db.lab'}]
    assert nodes[1].kwargs['parameters'] == [params, {'backend': 'sim',
                                                      'robot_serial': '3JKCK980030E3K'}]
    assert nodes[2].kwargs['parameters'] == [params, {'backend': 'sim'}]
    for node in nodes:
        assert node.kwargs['arguments'] == ['--ros-args', '--log-level', 'debug']


def test_launch_file_without_logger_starts_drivers_only(launch_file):
    _, actions = run_opaque(launch_file, {'logger': 'false', 'backend': 'sdk'})
    nodes = nodes_of(actions)
    assert [n.kwargs['package'] for n in nodes] == ['rm_driver']
    assert nodes[0].kwargs['parameters'][1] == {'backend': 'sdk'}


def test_launch_file_keeps_dds_local_when_the_caller_did_not_choose(launch_file, monkeypatch):
    monkeypatch.delenv('ROS_AUTOMATIC_DISCOVERY_RANGE', raising=False)
    monkeypatch.delenv('ROS_DISTRO', raising=False)
    _, actions = run_opaque(launch_file, {})
    env = [a.args for a in actions if type(a).__name__ == 'SetEnvironmentVariable']
    assert env == [('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')]
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'SUBNET')
    _, actions = run_opaque(launch_file, {})
    assert not [a for a in actions if type(a).__name__ == 'SetEnvironmentVariable']


@pytest.mark.parametrize('overrides, argument', [
    ({'backend': 'foo'}, 'backend'),
    ({'robots': ''}, 'robots'),
    ({'logger': 'perhaps'}, 'logger'),
])
def test_launch_file_stops_on_bad_arguments_naming_them(launch_file, overrides, argument):
    with pytest.raises(ValueError, match=f'^{argument}: '):
        run_opaque(launch_file, overrides)


def test_launch_file_refuses_a_command_line_name_it_does_not_declare(launch_file):
    # `ros2 launch` keeps undeclared names as launch configurations and says nothing
    with pytest.raises(ValueError, match="^robot: unknown argument 'robot' "
                                         r"\(did you mean 'robots'\?\)"):
        run_opaque(launch_file, {'robot': 'ep01'})


# --- `ros2 launch` itself, where ROS 2 is fully installed ---------------------------

@pytest.mark.skipif(shutil.which('ros2') is None
                    or importlib.util.find_spec('launch_ros') is None,
                    reason='needs the ros2 CLI and launch_ros (a full ROS 2 install)')
# (`robots:=`, empty, is refused by `ros2 launch` itself as malformed, before this file runs)
@pytest.mark.parametrize('argument, value', [('backend', 'foo'), ('robots', '1ep'),
                                             ('robot', 'ep01')])
def test_ros2_launch_refuses_bad_arguments(argument, value):
    result = subprocess.run(
        ['ros2', 'launch', str(LAUNCH_FILE), f'{argument}:={value}'],
        cwd=REPO_ROOT, env=ros_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f'{argument}: ' in result.stdout + result.stderr
