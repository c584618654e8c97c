"""The driver's bookkeeping, free of ROS: status, battery-low crossings, the cmd_vel
gate (which commands deserve a command_result, when the watchdog fires) and the
progress of a move measured on odometry."""

from __future__ import annotations

import math
from typing import Optional, Tuple

from robot_interfaces.msg import RobotStatus

from rm_driver.commands import MoveRequest, Velocity

ACTIVE = RobotStatus.STATUS_ACTIVE
IDLE = RobotStatus.STATUS_IDLE
DISCONNECTED = RobotStatus.STATUS_DISCONNECTED
ERROR = RobotStatus.STATUS_ERROR


class StatusTracker:
    """Derives RobotStatus.status from the link, a latched fault and what is executing."""

    def __init__(self) -> None:
        self.link_up = False
        self.fault: Optional[str] = None
        self.driving = False       # a non-zero cmd_vel is in force
        self.moving = False        # a move goal is executing

    @property
    def status(self) -> str:
        # Order matters: without a link nothing else is known; a fault outranks activity.
        if not self.link_up:
            return DISCONNECTED
        if self.fault is not None:
            return ERROR
        if self.driving or self.moving:
            return ACTIVE
        return IDLE

    def refusal(self) -> Optional[str]:
        """Why a new command cannot run now, or None when it can."""
        if not self.link_up:
            return 'robot is Disconnected: the link to the robot is down'
        if self.fault is not None:
            return f'robot is in Error: {self.fault}'
        return None


class BatteryLowDetector:
    """Fires once when the charge falls below the threshold; re-arms only after it
    climbs back above threshold + hysteresis, so a reading jittering around the
    threshold does not produce a stream of BatteryLow events."""

    def __init__(self, threshold: float, hysteresis: float = 1.0) -> None:
        self.threshold = threshold
        self.hysteresis = hysteresis
        self._armed = True

    def update(self, percent: float) -> bool:
        if math.isnan(percent):
            return False
        if self._armed and percent < self.threshold:
            self._armed = False
            return True
        if not self._armed and percent >= self.threshold + self.hysteresis:
            self._armed = True
        return False


class VelocityGate:
    """Tracks the velocity in force. A command_result is due when it changes (within
    VELOCITY_TOLERANCE) and when the watchdog stops a moving chassis, never per message.
    Times are nanoseconds of the node's clock, the clock its watchdog timer runs on."""

    def __init__(self) -> None:
        self.current = Velocity()
        self._last_rejected: Optional[str] = None
        self._moving_since_ns: Optional[int] = None   # last accepted cmd_vel that moves

    @property
    def moving(self) -> bool:
        return not self.current.is_zero()

    def accept(self, command: Velocity, now_ns: int) -> bool:
        """Record a valid command; return whether it differs from the one in force."""
        self._last_rejected = None
        changed = not command.close_to(self.current)
        if changed:
            self.current = command
        self._moving_since_ns = now_ns if self.moving else None
        return changed

    def reject(self, payload: str) -> bool:
        """Record an invalid command; return whether it is a new one worth reporting."""
        if payload == self._last_rejected:
            return False
        self._last_rejected = payload
        return True

    def watchdog_expired(self, now_ns: int, timeout: float) -> bool:
        """The watchdog fired: return whether a stop is due (and record it), i.e. the
        chassis moves and its last cmd_vel was accepted `timeout` s or more ago. A call
        that ran late, after a fresher cmd_vel, finds that command too young."""
        if self._moving_since_ns is None or not self.moving:
            return False
        if now_ns - self._moving_since_ns < round(timeout * 1e9):
            return False
        self.reset()
        return True

    def reset(self) -> None:
        """The chassis was stopped (by the watchdog, link lost, fault, a move)."""
        self.current = Velocity()
        self._last_rejected = None
        self._moving_since_ns = None


class MoveProgress:
    """Progress of a relative move, from odometry: distance from the start pose and the
    yaw turned (unwrapped, so 720 deg counts as two turns). Progress never decreases."""

    def __init__(self, request: MoveRequest, start: Tuple[float, float, float]) -> None:
        self.request = request
        self._start_x, self._start_y, self._last_yaw = start
        self.distance = 0.0
        self._turned = 0.0  # rad, signed
        self.progress = 0.0

    @property
    def angle_turned(self) -> float:
        """Degrees turned so far (absolute)."""
        return abs(math.degrees(self._turned))

    def update(self, x: float, y: float, yaw: float) -> float:
        self.distance = math.hypot(x - self._start_x, y - self._start_y)
        step = math.atan2(math.sin(yaw - self._last_yaw), math.cos(yaw - self._last_yaw))
        self._turned += step
        self._last_yaw = yaw
        parts = []
        if self.request.distance > 1e-6:
            parts.append(self.distance / self.request.distance)
        if abs(self.request.yaw) > 1e-6:
            parts.append(self.angle_turned / abs(self.request.yaw))
        # The slower component decides; a move with nothing to do is complete.
        fraction = min(parts) if parts else 1.0
        self.progress = max(self.progress, min(1.0, max(0.0, fraction)))
        return self.progress

    def finish(self) -> None:
        self.progress = 1.0
