"""Backend 'sim': SimChassis run in real time on ROS time, plus the sim-only
injection services a test (or a curious user) calls:

  sim/inject_collision  std_srvs/Trigger   a Collision event, as an armour hit
  sim/inject_fault      std_srvs/SetBool   true: a latched fault (status Error), false: clear
  sim/set_link          std_srvs/SetBool   false: drop the link, true: restore it

Everything here runs on the node's executor, so events go to the node directly.
"""

from __future__ import annotations

import threading
from typing import Dict, List, Optional

from rclpy.node import Node
from rclpy.time import Time
from std_srvs.srv import SetBool, Trigger

from rm_driver.backend import (BackendEvents, MOVE_CANCELED, MOVE_SUCCEEDED, MoveDone,
                               TelemetryRates)
from rm_driver.commands import MoveRequest, Velocity
from rm_driver.sim_chassis import SimChassis

MIN_MOVE_WAIT = 0.001  # s: the shortest wait armed for a move's end
SIM_ARMOR_ID = 2       # injected hits land on the front armour


class SimBackend:
    """ChassisBackend over a SimChassis, with ROS timers for time and telemetry.

    The pose is integrated when something looks at it or changes the command (each
    telemetry tick, each command), so driving costs no more callbacks than idling;
    a move gets one timer, for the moment it completes."""

    def __init__(self, node: Node, events: BackendEvents, serial: str, ip_address: str,
                 rates: TelemetryRates, battery_percent: float, drain_rate: float) -> None:
        self._node = node
        self._events = events
        self._serial = serial
        self._ip_address = ip_address
        self._chassis = SimChassis(battery_percent, drain_rate)
        self._lock = threading.RLock()  # moves start on a worker thread, telemetry does not
        self._link_up = False
        self._on_done: Optional[MoveDone] = None
        self._last_step = self._now()
        self._last_imu = self._last_step
        self._telemetry_timers: List = []
        self._rates = rates
        self.mode = 'free'
        self._move_end_timer = None
        node.create_service(Trigger, 'sim/inject_collision', self._inject_collision)
        node.create_service(SetBool, 'sim/inject_fault', self._inject_fault)
        node.create_service(SetBool, 'sim/set_link', self._set_link)

    # ChassisBackend ------------------------------------------------------------------
    def start(self) -> None:
        self.set_rates(self._rates)
        self._link_up = True
        self._events.on_connected(self._serial, self._ip_address)

    def drive(self, command: Velocity) -> None:
        with self._lock:
            self._advance()
            self._chassis.drive(command)

    def start_move(self, request: MoveRequest, on_done: MoveDone) -> None:
        with self._lock:
            self._advance()
            self._chassis.start_move(request)
            self._on_done = on_done
            self._arm_move_end()

    def cancel_move(self) -> None:
        with self._lock:
            self._advance()
            on_done, self._on_done = self._on_done, None
            if self._chassis.cancel_move() and on_done is not None:
                on_done(MOVE_CANCELED, 'move canceled: chassis stopped')

    def set_mode(self, mode: str) -> Optional[str]:
        self.mode = mode
        return None

    def set_rates(self, rates: TelemetryRates) -> None:
        """One timer per distinct rate: odom and imu at the same rate share a tick."""
        self._rates = rates
        for timer in self._telemetry_timers:
            self._node.destroy_timer(timer)
        streams: Dict[int, List[str]] = {}
        for stream in ('odom', 'imu', 'wheel_speeds', 'battery'):
            streams.setdefault(getattr(rates, stream), []).append(stream)
        self._telemetry_timers = [
            self._node.create_timer(1.0 / rate, lambda names=tuple(names): self._emit(names))
            for rate, names in sorted(streams.items())]

    def set_battery(self, percent: Optional[float] = None,
                    drain_rate: Optional[float] = None) -> None:
        if percent is not None:
            self._chassis.battery_percent = percent
        if drain_rate is not None:
            self._chassis.battery_drain_rate = drain_rate

    def close(self) -> None:
        with self._lock:
            self._chassis.stop()
            self._disarm_move_end()

    # time and telemetry --------------------------------------------------------------
    def _now(self) -> Time:
        return self._node.get_clock().now()

    def _arm_move_end(self) -> None:
        self._disarm_move_end()
        left = self._chassis.move_time_left()
        if left is not None:
            self._move_end_timer = self._node.create_timer(max(left, MIN_MOVE_WAIT),
                                                           self._on_move_end)

    def _disarm_move_end(self) -> None:
        if self._move_end_timer is not None:
            self._node.destroy_timer(self._move_end_timer)
            self._move_end_timer = None

    def _on_move_end(self) -> None:
        with self._lock:
            self._advance()
            self._arm_move_end()  # none once the move completed; else rounding left a sliver

    def _advance(self) -> None:
        with self._lock:
            now = self._now()
            dt = (now - self._last_step).nanoseconds * 1e-9
            self._last_step = now
            if self._chassis.advance(dt) and self._on_done is not None:
                on_done, self._on_done = self._on_done, None
                on_done(MOVE_SUCCEEDED, 'move completed')

    def _emit(self, streams) -> None:
        # Samples under our lock, events after it: the node takes its own lock before
        # ours (commands), so never the other way round.
        with self._lock:
            self._advance()
            if not self._link_up:
                return  # a robot out of reach sends nothing
            samples = [(stream, self._sample(stream)) for stream in streams]
        handlers = {'odom': self._events.on_odom, 'imu': self._events.on_imu,
                    'wheel_speeds': self._events.on_wheels, 'battery': self._events.on_battery}
        for stream, sample in samples:
            handlers[stream](sample)

    def _sample(self, stream: str):
        if stream == 'odom':
            return self._chassis.odom()
        if stream == 'imu':
            now = self._now()
            elapsed = (now - self._last_imu).nanoseconds * 1e-9
            self._last_imu = now
            return self._chassis.imu(elapsed)
        if stream == 'wheel_speeds':
            return self._chassis.wheels()
        return self._chassis.battery_percent

    # injection services --------------------------------------------------------------
    def _inject_collision(self, request: Trigger.Request,
                          response: Trigger.Response) -> Trigger.Response:
        self._events.on_collision(SIM_ARMOR_ID, 'sim')
        response.success = True
        response.message = f'collision injected on armour {SIM_ARMOR_ID}'
        return response

    def _inject_fault(self, request: SetBool.Request,
                      response: SetBool.Response) -> SetBool.Response:
        if request.data:
            self._stop_chassis()
            self._events.on_fault('injected fault (sim/inject_fault)', True)
            response.message = 'fault injected: status Error until cleared'
        else:
            self._events.on_fault_cleared()
            response.message = 'fault cleared'
        response.success = True
        return response

    def _set_link(self, request: SetBool.Request,
                  response: SetBool.Response) -> SetBool.Response:
        response.success = True
        if request.data == self._link_up:
            response.message = 'link already ' + ('up' if self._link_up else 'down')
            return response
        self._link_up = request.data
        if request.data:
            self._events.on_connected(self._serial, self._ip_address)
            response.message = 'link restored'
        else:
            self._stop_chassis()
            self._events.on_link_lost('sim link dropped (sim/set_link)')
            response.message = 'link dropped'
        return response

    def _stop_chassis(self) -> None:
        # The node ends the running move itself (as Failed); no MoveDone from here.
        with self._lock:
            self._advance()
            self._on_done = None
            self._chassis.stop()
            self._disarm_move_end()
