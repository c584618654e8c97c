"""The whole pipeline: db_logger plus one rm_driver per robot, from one parameter file.

    ros2 launch launch/pipeline.launch.py
    ros2 launch launch/pipeline.launch.py robots:=ep01,ep02 backend:=sim
    ros2 launch launch/pipeline.launch.py robots:=ep01=3JKCK980030E3K backend:=sdk logger:=false
    ros2 launch launch/pipeline.launch.py db_host:=10.0.0.5 db_port:=7858 log_level:=debug

Every node reads params_file (default config/pipeline.yaml beside this folder); the
arguments override it. The arguments are parsed and checked by pipeline_args.py
beside this file, which scripts/run_pipeline.py shares: a bad value, or a name on the
command line that this file does not declare (robot:=ep01 for robots:=ep01), stops the
launch with a message naming the argument. (So a launch file that includes this one
must not take command-line arguments of its own.) Uses only launch/launch_ros API
present in Humble, Jazzy and Kilted.
"""

import importlib.util
import os
import sys
from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _load_pipeline_args():
    """Import pipeline_args.py from this file's folder (`ros2 launch` loads us by path)."""
    name = 'robot_db_pipeline_args'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().with_name('pipeline_args.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while defining
        spec.loader.exec_module(module)
    return sys.modules[name]


pipeline_args = _load_pipeline_args()


def _start_nodes(context):
    """Check the arguments, then return the actions that start the nodes."""
    # A PipelineArgumentError raised here ends `ros2 launch` with its message and exit 1.
    # context.argv is the `ros2 launch` command line's name:=value list.
    pipeline_args.check_names(pipeline_args.command_line_names(list(context.argv)))
    values = {name: LaunchConfiguration(name).perform(context)
              for name in pipeline_args.DEFAULTS}
    args = pipeline_args.parse_pipeline_args(values)
    params_file = str(args.params_file)
    ros_args = ['--ros-args', '--log-level', args.log_level]

    actions = [SetEnvironmentVariable(name, value)
               for name, value in pipeline_args.dds_environment(os.environ).items()]
    actions.append(LogInfo(msg='pipeline: ' + pipeline_args.describe(args)))
    if args.logger:
        actions.append(Node(
            package='db_logger', executable='db_logger', name='db_logger',
            parameters=[params_file, pipeline_args.logger_parameters(args)],
            arguments=ros_args, output='screen'))
    for robot in args.robots:
        actions.append(Node(
            package='rm_driver', executable='rm_driver', name='rm_driver',
            namespace=robot.name,
            parameters=[params_file, pipeline_args.driver_parameters(args, robot)],
            arguments=ros_args, output='screen'))
    return actions


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in pipeline_args.ARGUMENTS]
        + [OpaqueFunction(function=_start_nodes)])
