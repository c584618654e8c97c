"""The `move` action: one relative move at a time, validated on arrival.

Goals outside the SDK's ranges, or arriving while another move runs or the robot
cannot move, are rejected in the goal callback (never accepted then aborted). Every
goal produces exactly one command_result; a completed move also a Goal event.
The execute callback blocks on an Event while the backend moves, so it runs in its
own reentrant callback group, on the executor's worker threads (executor.py; this
works the same on Humble, Jazzy and Kilted, unlike awaiting futures in coroutines).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Tuple

import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node

from robot_interfaces.action import Move
from robot_interfaces.msg import CommandResult, RobotEvent
from rm_driver.backend import ChassisBackend, MOVE_CANCELED, MOVE_FAILED, MOVE_SUCCEEDED
from rm_driver.commands import MoveRequest, check_move, move_payload, move_request
from rm_driver.reporting import RobotReporter
from rm_driver.robot_state import MoveProgress

Pose = Tuple[float, float, float]
CANCEL_STATE_WAIT = 2.0   # s for rclpy to mark a goal CANCELING after we accepted


class _ActiveMove:
    """One executing goal; done() is called once by whoever ends it first."""

    def __init__(self, goal_handle: ServerGoalHandle, request: MoveRequest,
                 progress: MoveProgress) -> None:
        self.goal_handle = goal_handle
        self.request = request
        self.progress = progress
        self.outcome = ''
        self.message = ''
        self.finished = threading.Event()

    def done(self, outcome: str, message: str) -> None:
        if self.finished.is_set():
            return  # e.g. the backend reporting after the link loss already failed it
        self.outcome, self.message = outcome, message
        self.finished.set()


class MoveServer:
    """Glue between the Move action and a ChassisBackend."""

    def __init__(self, node: Node, reporter: RobotReporter, backend: ChassisBackend,
                 lock: threading.RLock, group: CallbackGroup,
                 refusal: Callable[[], Optional[str]], pose: Callable[[], Pose],
                 on_active: Callable[[bool], None]) -> None:
        self._node = node
        self._reporter = reporter
        self._backend = backend
        self._lock = lock
        self._refusal = refusal
        self._pose = pose
        self._on_active = on_active
        self._reserved = False        # a goal was accepted and has not finished
        self._active: Optional[_ActiveMove] = None
        self._server = ActionServer(node, Move, 'move', self._execute, callback_group=group,
                                    goal_callback=self._on_goal,
                                    cancel_callback=self._on_cancel)

    @property
    def busy(self) -> bool:
        return self._reserved

    def destroy(self) -> None:
        self._server.destroy()

    def feedback(self, x: float, y: float, yaw: float) -> None:
        """Called with every odometry sample: progress measured on odometry."""
        with self._lock:
            active = self._active
            if active is None or active.finished.is_set():
                return
            fb = Move.Feedback(progress=active.progress.update(x, y, yaw),
                               distance_moved=active.progress.distance,
                               angle_turned=active.progress.angle_turned)
        active.goal_handle.publish_feedback(fb)

    def fail_active(self, reason: str) -> None:
        """End the running move as Failed (link lost, fault); the caller stopped the chassis."""
        with self._lock:
            if self._active is not None:
                self._active.done(MOVE_FAILED, reason)

    # action callbacks ----------------------------------------------------------------
    def _on_goal(self, goal: Move.Goal) -> GoalResponse:
        fields = (goal.x, goal.y, goal.yaw, goal.xy_speed, goal.yaw_speed)
        with self._lock:
            reason = check_move(*fields) or self._refusal()
            if reason is None and self._reserved:
                reason = 'another move is executing: cancel it or wait for its result'
            if reason is not None:
                self._reporter.result(CommandResult.TYPE_MOVE, move_payload(*fields),
                                      CommandResult.RESULT_REJECTED, reason)
                return GoalResponse.REJECT
            self._reserved = True
            return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle: ServerGoalHandle) -> CancelResponse:
        with self._lock:
            active = self._active
            if active is None or active.goal_handle is not goal_handle \
                    or active.finished.is_set():
                return CancelResponse.REJECT
            self._backend.cancel_move()
            return CancelResponse.ACCEPT

    def _execute(self, goal_handle: ServerGoalHandle) -> Move.Result:
        goal = goal_handle.request
        fields = (goal.x, goal.y, goal.yaw, goal.xy_speed, goal.yaw_speed)
        request = move_request(*fields)
        active: Optional[_ActiveMove] = None
        try:
            try:
                active = self._start(goal_handle, request)
                if active is not None:
                    self._wait(active)
            finally:
                with self._lock:
                    self._active = None
                self._on_active(False)
            if active is None:
                active = _ActiveMove(goal_handle, request,
                                     MoveProgress(request, (0.0, 0.0, 0.0)))
                active.done(MOVE_FAILED, self._refusal() or 'the robot cannot move now')
            return self._finish(active, move_payload(*fields))
        finally:
            with self._lock:
                self._reserved = False  # only now: busy covers publishing the result

    def _start(self, goal_handle: ServerGoalHandle,
               request: MoveRequest) -> Optional[_ActiveMove]:
        with self._lock:
            if self._refusal() is not None:   # the link or a fault changed since accepting
                return None
            active = _ActiveMove(goal_handle, request, MoveProgress(request, self._pose()))
            self._active = active
            self._on_active(True)
            self._backend.start_move(request, active.done)
            return active

    def _wait(self, active: _ActiveMove) -> None:
        deadline = time.monotonic() + active.request.expected_duration() * 2.0 + 5.0
        while not active.finished.wait(0.1):
            if not rclpy.ok(context=self._node.context):
                active.done(MOVE_FAILED, 'driver shutting down')
            elif time.monotonic() > deadline:
                with self._lock:  # failed first, so the backend's "canceled" is ignored
                    active.done(MOVE_FAILED, 'move did not complete in twice its expected time')
                    self._backend.cancel_move()

    def _finish(self, active: _ActiveMove, payload: str) -> Move.Result:
        handle = active.goal_handle
        request = active.request
        outcome, message = active.outcome, active.message
        if outcome == MOVE_CANCELED and not self._wait_cancel_state(handle):
            outcome, message = MOVE_FAILED, message + ' (cancel not registered)'
        if outcome == MOVE_SUCCEEDED:
            active.progress.finish()
            handle.publish_feedback(Move.Feedback(
                progress=1.0, distance_moved=request.distance, angle_turned=abs(request.yaw)))
        results = {MOVE_SUCCEEDED: CommandResult.RESULT_SUCCESS,
                   MOVE_CANCELED: CommandResult.RESULT_CANCELED}
        result = results.get(outcome, CommandResult.RESULT_FAILED)
        command_id = self._reporter.result(CommandResult.TYPE_MOVE, payload, result, message)
        if outcome == MOVE_SUCCEEDED:
            handle.succeed()
            self._reporter.event(RobotEvent.TYPE_GOAL, f'move reached: x={request.x:g} m, '
                                 f'y={request.y:g} m, yaw={request.yaw:g} deg')
        elif outcome == MOVE_CANCELED:
            handle.canceled()
        else:
            handle.abort()
        return Move.Result(success=outcome == MOVE_SUCCEEDED, message=message,
                           command_id=command_id)

    @staticmethod
    def _wait_cancel_state(handle: ServerGoalHandle) -> bool:
        # We stop the chassis inside the cancel callback; rclpy moves the goal to
        # CANCELING just after that callback returns, on another thread.
        deadline = time.monotonic() + CANCEL_STATE_WAIT
        while not handle.is_cancel_requested and time.monotonic() < deadline:
            time.sleep(0.005)
        return handle.is_cancel_requested
