"""The rm_driver node: the graph's only path to a RoboMaster EP (or its simulator).

Thin ROS glue: parameters (parameters.py), command checks (commands.py), bookkeeping
(robot_state.py), the move action (move_server.py), records (reporting.py), a
backend (sim_backend.py, or sdk_process.py: the SDK in a process of its own) and the
executor (executor.py). Backend events arrive on the executor (the sdk backend hands
them over through a guard condition).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Any, List, Optional

import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.callback_groups import CallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import BatteryState, Imu

from robot_interfaces.msg import CommandResult, RobotEvent, WheelSpeeds
from robot_interfaces.qos import telemetry_qos
from robot_interfaces.srv import SetMode
from rm_driver import messages
from rm_driver.backend import ARMOR_NAMES, ChassisBackend, ImuSample, OdomSample, WheelSample
from rm_driver.commands import (Velocity, check_mode, check_velocity, clamp_velocity,
                                mode_payload, velocity_payload)
from rm_driver.executor import InlineExecutor
from rm_driver.handoff import ThreadHandoff
from rm_driver.link_supervision import Backoff
from rm_driver.move_server import MoveServer
from rm_driver.parameters import (DriverParameters, ParameterError, declare_parameters,
                                  sdk_command)
from rm_driver.reporting import RobotReporter
from rm_driver.robot_state import BatteryLowDetector, StatusTracker, VelocityGate
from rm_driver.sdk_loading import SdkMissing
from rm_driver.sdk_process import SdkProcessBackend
from rm_driver.sim_backend import SimBackend
from rm_driver.stop_signals import StopSignals

try:
    from rclpy.executors import ExternalShutdownException
except ImportError:  # Foxy (Python 3.8, the SDK's last Python) predates it
    class ExternalShutdownException(Exception):  # type: ignore[no-redef]
        """Never raised: stands in for the Humble+ exception."""

VELOCITY = CommandResult.TYPE_VELOCITY


def sim_serial(namespace: str) -> str:
    """Stable across restarts: SIM-robot for /robot, SIM-lab-ep01 for /lab/ep01."""
    return 'SIM-' + (namespace.strip('/').replace('/', '-') or 'root')


class DriverNode(Node):
    """Node `rm_driver` (default namespace /robot)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault('namespace', 'robot')
        super().__init__('rm_driver', **kwargs)
        self._lock = threading.RLock()
        self._params: DriverParameters = declare_parameters(self, self._on_parameters_changed)
        params = self._params
        self._state = StatusTracker()
        self._gate = VelocityGate()
        self._battery_low = BatteryLowDetector(params['battery_low_threshold'])
        self._battery_percent = math.nan
        self._pose = (0.0, 0.0, 0.0)
        self._published_status: Optional[str] = None
        self._link_was_lost = False
        self._reporter = RobotReporter(self, params['history_depth'])
        self._reporter.model_type = params['model_type']
        telemetry = telemetry_qos()
        self._odom_pub = self.create_publisher(Odometry, 'odom', telemetry)
        self._imu_pub = self.create_publisher(Imu, 'imu', telemetry)
        self._battery_pub = self.create_publisher(BatteryState, 'battery', telemetry)
        self._wheels_pub = self.create_publisher(WheelSpeeds, 'wheel_speeds', telemetry)
        self._commands_group = ReentrantCallbackGroup()  # blocking move/mode calls run here
        self._backend: ChassisBackend = self._make_backend()
        self.create_subscription(Twist, 'cmd_vel', self._on_cmd_vel, 10)
        self.create_service(SetMode, 'set_mode', self._on_set_mode,
                            callback_group=self._commands_group)
        self._moves = MoveServer(self, self._reporter, self._backend, self._lock,
                                 self._commands_group,
                                 refusal=self._state.refusal, pose=lambda: self._pose,
                                 on_active=self._on_move_active)
        self._watchdog = self._make_watchdog(params['cmd_vel_timeout'])
        self.create_timer(1.0, self._publish_status)
        self._backend.start()

    def _make_backend(self) -> ChassisBackend:
        params = self._params
        if params['backend'] == 'sim':
            serial = params['robot_serial'] or sim_serial(self.get_namespace())
            return SimBackend(self, self, serial, params['sim.ip_address'], params.rates,
                              params['sim.battery_initial_percent'],
                              params['sim.battery_drain_rate'])
        # Known before the first connection, so Disconnected can be reported meanwhile.
        self._reporter.serial = params['robot_serial']
        handoff = ThreadHandoff(on_error=lambda e: self.get_logger().error(
            f'handling an SDK callback failed: {e!r}'))
        handoff.set_wake(self.create_guard_condition(handoff.drain).trigger)
        backoff = Backoff(params['sdk.reconnect_initial_delay'], params['sdk.reconnect_max_delay'])
        return SdkProcessBackend(self, handoff, sdk_command(params['sdk.python']),
                                 params['conn_type'], params['robot_serial'], params.rates,
                                 params['sdk.link_timeout'], backoff,
                                 log=self.get_logger().warning,
                                 log_output=self.get_logger().info)

    def _make_watchdog(self, timeout: float):
        timer = self.create_timer(timeout, self._on_watchdog)
        timer.cancel()  # armed by the first moving cmd_vel
        return timer

    @property
    def blocking_group(self) -> CallbackGroup:
        """The callbacks that may block (move goals, set_mode): not on the spinning thread."""
        return self._commands_group

    @property
    def busy(self) -> bool:
        """A move goal has not finished yet."""
        return self._moves.busy

    def shutdown(self) -> None:
        """Stop the chassis, end a running move (its result is published) and release
        the robot. Idempotent."""
        with self._lock:
            if self._gate.moving:
                self._backend.drive(Velocity())
                self._gate.reset()
        self._moves.fail_active('driver shutting down: chassis stopped')
        self._backend.close()

    # status --------------------------------------------------------------------------
    def _refresh_status(self) -> None:
        if self._state.status != self._published_status:
            self._publish_status()

    def _publish_status(self) -> None:
        with self._lock:
            status = self._state.status
            self._reporter.status(status, self._battery_percent)
            if self._reporter.ready:
                self._published_status = status

    def _on_move_active(self, active: bool) -> None:
        with self._lock:
            self._state.moving = active
            if active:  # a move takes over from cmd_vel
                self._gate.reset()
                self._state.driving = False
                self._watchdog.cancel()
            self._refresh_status()

    # backend events (executor thread) ------------------------------------------------
    def on_connected(self, serial: str, ip_address: str, firmware: str = '') -> None:
        if firmware:
            self.get_logger().info(f'connected to robot {serial} at {ip_address or "?"} '
                                   f'(firmware {firmware})')
        with self._lock:
            self._reporter.serial = self._reporter.serial or serial
            self._reporter.ip_address = ip_address
            self._state.link_up = True
            if self._link_was_lost:
                self._link_was_lost = False
                self._reporter.event(RobotEvent.TYPE_CONNECTION_RESTORED,
                                     f'link to robot {serial} restored')
            self._refresh_status()

    def on_link_lost(self, detail: str) -> None:
        with self._lock:
            if not self._state.link_up:
                return
            self._state.link_up = False
            self._link_was_lost = True
            self._stop_commands(f'link lost: {detail}')
            self._reporter.event(RobotEvent.TYPE_CONNECTION_LOST, detail)
            self._refresh_status()

    def on_fault(self, detail: str, latched: bool) -> None:
        with self._lock:
            self._reporter.event(RobotEvent.TYPE_ERROR, detail)
            if latched:
                self._state.fault = detail
                self._stop_commands(f'fault: {detail}')
                self._refresh_status()

    def on_fault_cleared(self) -> None:
        with self._lock:
            self._state.fault = None
            self._refresh_status()

    def _stop_commands(self, reason: str) -> None:
        self._gate.reset()
        self._state.driving = False
        self._watchdog.cancel()
        self._moves.fail_active(reason)

    def on_odom(self, sample: OdomSample) -> None:
        self._pose = (sample.x, sample.y, sample.yaw)
        stamp = self.get_clock().now().to_msg()
        self._odom_pub.publish(messages.odometry(sample, stamp, self._params['odom_frame'],
                                                 self._params['base_frame']))
        self._moves.feedback(sample.x, sample.y, sample.yaw)

    def on_imu(self, sample: ImuSample) -> None:
        stamp = self.get_clock().now().to_msg()
        self._imu_pub.publish(messages.imu(sample, stamp, self._params['imu_frame']))

    def on_wheels(self, sample: WheelSample) -> None:
        stamp = self.get_clock().now().to_msg()
        self._wheels_pub.publish(messages.wheel_speeds(sample, stamp, self._params['base_frame']))

    def on_battery(self, percent: float) -> None:
        stamp = self.get_clock().now().to_msg()
        self._battery_pub.publish(messages.battery(percent, stamp,
                                                   self._params['backend'] == 'sim'))
        with self._lock:
            self._battery_percent = percent
            if self._battery_low.update(percent):
                self._reporter.event(RobotEvent.TYPE_BATTERY_LOW,
                                     f'battery at {percent:.1f}%, below the '
                                     f'{self._battery_low.threshold:g}% threshold')

    def on_collision(self, armor_id: int, hit_type: str) -> None:
        name = ARMOR_NAMES.get(armor_id, 'unknown')
        with self._lock:
            self._reporter.event(RobotEvent.TYPE_COLLISION,
                                 f'armour {armor_id} ({name}) hit: {hit_type}')

    # commands ------------------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist) -> None:
        vx, vy, wz = msg.linear.x, msg.linear.y, msg.angular.z
        payload = velocity_payload(vx, vy, wz)
        with self._lock:
            reason = check_velocity(vx, vy, wz) or self._state.refusal()
            if reason is None and self._moves.busy:
                reason = 'a move is executing: cmd_vel is ignored until it ends'
            if reason is not None:
                if self._gate.reject(payload):
                    self._reporter.result(VELOCITY, payload, CommandResult.RESULT_REJECTED,
                                          reason)
                return
            command, notes = clamp_velocity(Velocity(vx, vy, wz))
            if self._gate.accept(command, self._now_ns()):
                self._backend.drive(command)
                self._reporter.result(VELOCITY, payload, CommandResult.RESULT_SUCCESS,
                                      '; '.join(['velocity set'] + notes))
                self._state.driving = self._gate.moving
                self._refresh_status()
            if self._gate.moving:
                self._watchdog.reset()  # restarts the countdown
            else:
                self._watchdog.cancel()

    def _now_ns(self) -> int:
        # The watchdog timer runs on this clock too: one time source for both.
        return self.get_clock().now().nanoseconds

    def _on_watchdog(self) -> None:
        with self._lock:
            timeout = self._params['cmd_vel_timeout']
            if not self._gate.watchdog_expired(self._now_ns(), timeout):
                if not self._gate.moving:
                    self._watchdog.cancel()
                # else a cmd_vel came in while this call was due: its reset re-armed us
                return
            self._watchdog.cancel()
            self._backend.drive(Velocity())
            self._reporter.result(VELOCITY, velocity_payload(0.0, 0.0, 0.0, source='watchdog'),
                                  CommandResult.RESULT_SUCCESS,
                                  f'no cmd_vel for {timeout:g} s: chassis stopped by the watchdog')
            self._state.driving = False
            self._refresh_status()

    def _on_set_mode(self, request: SetMode.Request,
                     response: SetMode.Response) -> SetMode.Response:
        payload = mode_payload(request.mode)
        with self._lock:
            reason = check_mode(request.mode) or self._state.refusal()
        if reason is not None:
            result, message = CommandResult.RESULT_REJECTED, reason
        else:
            failure = self._backend.set_mode(request.mode)  # may block (sdk): outside the lock
            result = CommandResult.RESULT_FAILED if failure else CommandResult.RESULT_SUCCESS
            message = failure or f'mode set to {request.mode}'
        with self._lock:
            response.command_id = self._reporter.result(CommandResult.TYPE_MODE_CHANGE, payload,
                                                        result, message)
        response.success = result == CommandResult.RESULT_SUCCESS
        response.message = message
        return response

    # parameters ----------------------------------------------------------------------
    def _on_parameters_changed(self, parameters: List[Parameter]) -> None:
        """Apply accepted runtime changes (validation already passed)."""
        with self._lock:
            old_rates = self._params.rates
            for parameter in parameters:
                self._params.values[parameter.name] = parameter.value
            names = {p.name for p in parameters}
            if self._params.rates != old_rates:
                self._backend.set_rates(self._params.rates)
            if 'cmd_vel_timeout' in names:
                was_armed = not self._watchdog.is_canceled()
                self.destroy_timer(self._watchdog)
                self._watchdog = self._make_watchdog(self._params['cmd_vel_timeout'])
                if was_armed:
                    self._watchdog.reset()
            self._battery_low.threshold = self._params['battery_low_threshold']
            self._reporter.model_type = self._params['model_type']
            if isinstance(self._backend, SimBackend):
                self._backend.set_battery(
                    self._params['sim.battery_initial_percent']
                    if 'sim.battery_initial_percent' in names else None,
                    self._params['sim.battery_drain_rate'])
            elif isinstance(self._backend, SdkProcessBackend) and 'sdk.link_timeout' in names:
                self._backend.set_link_timeout(self._params['sdk.link_timeout'])


def _init_rclpy(args: Optional[List[str]]) -> None:
    """Init without rclpy's signal handlers: on SIGINT/SIGTERM the driver must still
    stop the chassis and publish the running move's result before the context dies."""
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:  # Foxy: rclpy's own handler (the move's result may be lost)
        rclpy.init(args=args)
        return
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


def _spin(executor: InlineExecutor, stop: threading.Event, failures: List[BaseException]) -> None:
    try:
        executor.spin_forever()
    except ExternalShutdownException:
        pass
    except BaseException as error:  # a callback raised: the traceback is printed, exit 1
        failures.append(error)
        raise
    finally:
        stop.set()


def main(args: Optional[List[str]] = None) -> None:
    _init_rclpy(args)
    stop = threading.Event()  # the spinner ended
    signals = StopSignals()
    node: Optional[DriverNode] = None
    executor: Optional[InlineExecutor] = None
    failures: List[BaseException] = []
    exit_code = 0
    try:
        node = DriverNode()
        # Blocking move and set_mode calls must not starve telemetry: worker threads.
        executor = InlineExecutor(node.blocking_group, workers=4)
        executor.add_node(node)
        spinner = threading.Thread(target=_spin, args=(executor, stop, failures),
                                   name='rm_driver_spin')
        spinner.start()
        while not stop.wait(0.1) and not signals.is_set():
            pass
        node.shutdown()
        deadline = time.monotonic() + 2.0
        linger = time.monotonic() + 0.3
        while spinner.is_alive() and time.monotonic() < deadline and \
                (node.busy or time.monotonic() < linger):
            time.sleep(0.02)  # still spinning: the move's result goes out
        executor.halt()
        spinner.join(5.0)
        exit_code = 1 if failures else 0
    except (ParameterError, SdkMissing) as error:
        print(f'rm_driver: {error}', file=sys.stderr)
        exit_code = 2
    finally:
        if executor is not None:
            executor.stop(timeout_sec=2.0)
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    sys.exit(exit_code)


if __name__ == '__main__':
    main()
