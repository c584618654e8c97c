"""Backend 'sdk': the RoboMaster EP through robomaster.robot.Robot.

Threads: the SDK calls back on its own threads; every callback converts its payload
(sdk_conversions) and posts the result to a ThreadHandoff, so the node's state is
only touched on the node's executor. A connection thread connects, subscribes,
watches the link (LinkWatch) and reconnects with Backoff; a worker thread runs the
SDK's blocking calls (set_robot_mode waits up to 3 s per request for the robot's ack)
so they never stall the executor. The SDK is imported only when this backend is built.
README.md, "SDK behaviours the adapter relies on", lists what robomaster 0.1.1.68
really does where this code depends on it.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Optional, Tuple

from rm_driver.backend import (BackendEvents, MOVE_CANCELED, MOVE_FAILED, MOVE_SUCCEEDED,
                               MoveDone, OdomSample, TelemetryRates)
from rm_driver.call_worker import CallWorker
from rm_driver.commands import MoveRequest, Velocity
from rm_driver.handoff import ThreadHandoff
from rm_driver.link_supervision import Backoff, FirstPushes, LinkWatch
from rm_driver.sdk_conversions import (attitude_to_rep103, drive_speed_args, esc_to_wheels,
                                       imu_to_rep103, move_args, position_to_rep103,
                                       velocity_to_rep103)

POSITION_FROM_POWER_ON = 1   # sub_position cs=1: odometry survives reconnects
SDK_ACK_TIMEOUT = 3.0        # client.py send_sync_msg: an acked call to a silent robot
CALL_TIMEOUT = 2 * SDK_ACK_TIMEOUT + 1.0   # set_robot_mode makes up to two acked calls
CLOSE_TIMEOUT = SDK_ACK_TIMEOUT + 2.0      # robot.close() makes one (_enable_sdk(0))
FTP_TIMEOUT = 5.0            # s for initialize()'s FTP connect and greeting (it has none)
ABANDON_WAIT = 0.05          # wait_for_completed(timeout) that marks an action finished
PERIODIC_STREAMS = ('position', 'attitude', 'velocity', 'imu', 'esc', 'battery')
# Where initialize() looks for the robot (config.py ROBOT_DEFAULT_*_ADDR, broadcast port).
SDK_ADDRESSES = {'ap': 'its hotspot address 192.168.2.1',
                 'sta': 'a robot broadcasting on the LAN (UDP 40927)',
                 'rndis': 'its USB address 192.168.42.2'}


class SdkBackend:
    """ChassisBackend over a robomaster.robot.Robot (or anything with its API)."""

    def __init__(self, events: BackendEvents, handoff: ThreadHandoff,
                 robot_factory: Callable[[], Any], conn_type: str, serial: str,
                 rates: TelemetryRates, link_timeout: float, backoff: Backoff,
                 log: Callable[[str], None] = print) -> None:
        self._events = events
        self._handoff = handoff
        self._robot_factory = robot_factory
        # The SDK tells conn types apart with `is` (conn.py request_connection): a string
        # built at run time must be the interned one its literals are.
        self._conn_type = sys.intern(conn_type)
        self._serial = serial
        self._rates = rates
        self._watch = LinkWatch(link_timeout)
        self._pushes = FirstPushes()
        self._backoff = backoff
        self._log = log
        self._robot: Any = None
        self._connected = threading.Event()
        self._closing = threading.Event()
        self._resubscribe = threading.Event()
        self._reconnect = threading.Event()
        self._move_token = 0          # bumped by every move start, cancel and link loss
        self._move_stop: Optional[Tuple[str, str]] = None
        self._move_lock = threading.Lock()
        self._action: Any = None      # the last chassis.move action (worker thread only)
        self._fault_latched = False
        # Fused odometry, touched only on the node's thread (inside posted calls).
        self._odom = OdomSample()
        self._attitude = (0.0, 0.0, 0.0)
        self._worker = CallWorker('sdk-worker')
        self._thread = threading.Thread(target=self._run, name='sdk-connection', daemon=True)

    # ChassisBackend ------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def drive(self, command: Velocity) -> None:
        args = drive_speed_args(command)
        # A push: the SDK returns False for it even when sent, so only an exception fails.
        self._worker.submit(lambda: self._call('drive_speed', lambda r: r.chassis.drive_speed(
            **args), acked=False), kind='drive')

    def start_move(self, request: MoveRequest, on_done: MoveDone) -> None:
        token = self._bump_move(None)
        self._worker.submit(lambda: self._run_move(request, token, on_done))

    def cancel_move(self) -> None:
        # The SDK has no public cancel: a zero speed command pre-empts the position
        # move on the robot, and the move's waiter is told to stand down.
        self._bump_move((MOVE_CANCELED, 'move canceled: chassis stopped'))
        self.drive(Velocity())

    def set_mode(self, mode: str) -> Optional[str]:
        done = threading.Event()
        outcome: list = ['SDK did not answer set_robot_mode within %.0f s' % CALL_TIMEOUT]

        def job() -> None:
            ok = self._call('set_robot_mode', lambda r: r.set_robot_mode(mode=mode))
            outcome[0] = None if ok else f'set_robot_mode({mode!r}) failed on the robot'
            done.set()

        self._worker.submit(job)
        done.wait(CALL_TIMEOUT)
        return outcome[0]

    def set_rates(self, rates: TelemetryRates) -> None:
        self._rates = rates
        self._resubscribe.set()

    def set_link_timeout(self, timeout: float) -> None:
        self._watch.timeout = timeout

    def close(self) -> None:
        self._closing.set()
        self._worker.close()
        self._thread.join(CLOSE_TIMEOUT)

    # SDK calls (worker thread) -------------------------------------------------------
    def _call(self, what: str, fn: Callable[[Any], Any], acked: bool = True) -> bool:
        """Run one SDK call; False from an acked call (the robot refused) is an Error event,
        an exception a latched fault and a reconnect (the SDK's state is unknown after it)."""
        robot = self._robot
        if robot is None or not self._connected.is_set():
            return False
        try:
            result = fn(robot)
        except Exception as error:  # noqa: BLE001 - any SDK failure is reported
            self._fault_latched = True
            self._handoff.post(self._events.on_fault, f'SDK {what} raised: {error}', True)
            self._reconnect.set()
            return False
        if acked and result is False:
            self._handoff.post(self._events.on_fault, f'SDK {what} failed', False)
            return False
        return True

    def _run_move(self, request: MoveRequest, token: int, on_done: MoveDone) -> None:
        robot = self._robot
        if robot is None or not self._connected.is_set():
            self._handoff.post(on_done, MOVE_FAILED, 'robot not connected')
            return
        if self._action is not None:
            self._finish(self._action)
        if robot.action_dispatcher.has_in_progress_actions:
            # chassis.move would raise holding the lock the SDK's receive thread needs.
            self._handoff.post(on_done, MOVE_FAILED,
                               'the SDK still counts an action in progress: move not sent')
            return
        try:
            action = robot.chassis.move(**move_args(request))
        except Exception as error:  # noqa: BLE001 - any SDK failure is reported
            self._handoff.post(on_done, MOVE_FAILED, f'chassis.move raised: {error}')
            return
        self._action = action
        waiter = threading.Thread(target=self._wait_move, args=(action, request, token, on_done),
                                  name='sdk-move-waiter', daemon=True)
        waiter.start()

    def _wait_move(self, action: Any, request: MoveRequest, token: int,
                   on_done: MoveDone) -> None:
        # Poll rather than wait_for_completed(timeout): on timeout the SDK marks the
        # action as failed, which would end a move that is merely slow.
        deadline = request.expected_duration() * 2.0 + 5.0
        waited = 0.0
        while not action.is_completed and token == self._move_token and waited < deadline:
            if self._closing.wait(0.1):
                return
            waited += 0.1
        with self._move_lock:
            superseded = token != self._move_token
            stopped = self._move_stop if superseded else None
        timed_out = not superseded and not action.is_completed
        if superseded or timed_out:
            self._finish(action)
        if superseded:
            if stopped is not None:  # canceled or link lost: say so, once
                self._handoff.post(on_done, *stopped)
        elif timed_out:
            self.drive(Velocity())
            self._handoff.post(on_done, MOVE_FAILED,
                               f'move did not complete within {deadline:.0f} s')
        elif action.has_failed or action.state in ('action_exception', 'action_rejected'):
            self._handoff.post(on_done, MOVE_FAILED,
                               f'chassis.move ended in state {action.state}')
        else:
            self._handoff.post(on_done, MOVE_SUCCEEDED, 'move completed')

    @staticmethod
    def _finish(action: Any) -> None:
        """End an abandoned action in the SDK, which counts it in progress until a final push
        that a cancel or a lost message never brings: a timed-out wait marks it finished."""
        if not action.is_completed:
            action.wait_for_completed(timeout=ABANDON_WAIT)

    def _bump_move(self, stop: Optional[Tuple[str, str]]) -> int:
        """Start a new move generation; `stop` is how the previous one ended, if it ran."""
        with self._move_lock:
            self._move_token += 1
            self._move_stop = stop
            return self._move_token

    # connection thread ---------------------------------------------------------------
    def _run(self) -> None:
        while not self._closing.is_set():
            if not self._connect():
                self._closing.wait(self._backoff.next_delay())
                continue
            self._backoff.reset()
            self._supervise()
            self._teardown()
            if not self._closing.is_set():
                self._closing.wait(self._backoff.next_delay())

    def _connect(self) -> bool:
        try:
            robot = self._robot_factory()
        except Exception as error:  # noqa: BLE001 - retried with backoff
            self._log(f'creating the SDK robot failed: {type(error).__name__}: {error}')
            return False
        if not self._initialize(robot):
            return False
        try:
            serial = self._serial or str(robot.get_sn() or '')
            firmware = str(robot.get_version() or '')
            ip = str(getattr(robot, 'ip', '') or '')
            self._robot = robot
            self._watch.feed()
            self._subscribe(robot)
            robot.armor.sub_hit_event(callback=self._sdk_hit)
        except Exception as error:  # noqa: BLE001 - retried with backoff
            self._log(f'the robot connected, then setting it up failed: '
                      f'{type(error).__name__}: {error}')
            self._robot = None
            self._close_quietly(robot)
            return False
        self._connected.set()
        self._handoff.post(self._events.on_connected, serial, ip, firmware)
        if self._fault_latched:
            self._fault_latched = False
            self._handoff.post(self._events.on_fault_cleared)
        return True

    def _initialize(self, robot: Any) -> bool:
        """robot.initialize(); False (logged, robot closed) when no robot answered."""
        # initialize() ends with an FTP connect on an ftplib.FTP() built without timeout
        # (conn.py FtpConnection): setting that object's timeout bounds this attempt only,
        # where socket.setdefaulttimeout reaches every thread and a watchdog leaks the socket.
        ftp = getattr(getattr(robot, '_ftp', None), '_ftp', None)
        if ftp is not None:
            ftp.timeout = FTP_TIMEOUT
        sn = self._serial or None
        try:
            if robot.initialize(conn_type=self._conn_type, sn=sn) is not False:
                return True
            said = 'returned False'
        except Exception as error:  # noqa: BLE001 - retried with backoff
            said = f'raised {type(error).__name__}: {error}'
            if isinstance(error, TypeError):   # client.py's `raise print(...)`
                said += ' (no robot answered)'
        where = SDK_ADDRESSES.get(self._conn_type, 'an unknown conn_type')
        self._log(f'connecting to {where} failed: initialize(conn_type={self._conn_type!r}, '
                  f'sn={sn!r}) {said}; retrying')
        # close() then raises (client never started) but still stops initialize's threads.
        self._close_quietly(robot, quiet=True)
        return False

    def _supervise(self) -> None:
        while not self._closing.wait(0.1):
            if self._reconnect.is_set():
                self._reconnect.clear()
                self._lost('reconnecting after an SDK error')
                return
            if self._watch.expired():
                self._lost(f'no data from the robot for {self._watch.silent_for():.1f} s')
                return
            if self._resubscribe.is_set() and self._pushes.seen_all(PERIODIC_STREAMS):
                self._resubscribe.clear()
                try:
                    self._unsubscribe(self._robot)
                    self._subscribe(self._robot)
                except Exception as error:  # noqa: BLE001 - treated as a lost link
                    self._lost(f'resubscribing failed: {error}')
                    return

    def _lost(self, detail: str) -> None:
        self._connected.clear()
        self._bump_move((MOVE_FAILED, f'link lost: {detail}'))
        self._handoff.post(self._events.on_link_lost, detail)

    def _teardown(self) -> None:
        robot, self._robot = self._robot, None
        self._connected.clear()
        if robot is None:
            return
        if self._closing.is_set():
            # No unsub_*: each waits 3 s on a dead link; close() leaving SDK mode ends them all.
            try:
                robot.chassis.drive_speed(x=0.0, y=0.0, z=0.0)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        self._close_quietly(robot)

    def _close_quietly(self, robot: Any, quiet: bool = False) -> None:
        try:
            robot.close()
        except Exception as error:  # noqa: BLE001 - the link may already be dead
            if not quiet:
                self._log(f'robot.close() raised: {type(error).__name__}: {error}')

    def _subscribe(self, robot: Any) -> None:
        """Subscribe the periodic streams at the current rates (the hit event stays)."""
        self._resubscribe.clear()   # these rates are the newest
        rates = self._rates
        wrap = self._pushes.restart()
        chassis = robot.chassis
        chassis.sub_position(cs=POSITION_FROM_POWER_ON, freq=rates.odom,
                             callback=wrap('position', self._sdk_position))
        chassis.sub_attitude(freq=rates.odom, callback=wrap('attitude', self._sdk_attitude))
        chassis.sub_velocity(freq=rates.odom, callback=wrap('velocity', self._sdk_velocity))
        chassis.sub_imu(freq=rates.imu, callback=wrap('imu', self._sdk_imu))
        chassis.sub_esc(freq=rates.wheel_speeds, callback=wrap('esc', self._sdk_esc))
        robot.battery.sub_battery_info(freq=rates.battery,
                                       callback=wrap('battery', self._sdk_battery))

    @staticmethod
    def _unsubscribe(robot: Any) -> None:
        """Only once every periodic stream has pushed (FirstPushes)."""
        chassis = robot.chassis
        for unsub in (chassis.unsub_position, chassis.unsub_attitude, chassis.unsub_velocity,
                      chassis.unsub_imu, chassis.unsub_esc, robot.battery.unsub_battery_info):
            unsub()

    # SDK callbacks (SDK threads): convert, then hand off --------------------------------
    def _sdk_position(self, payload: Any) -> None:
        self._watch.feed()
        self._handoff.post(self._fuse_position, *position_to_rep103(payload))

    def _sdk_attitude(self, payload: Any) -> None:
        self._watch.feed()
        self._handoff.post(self._fuse_attitude, attitude_to_rep103(payload))

    def _sdk_velocity(self, payload: Any) -> None:
        self._watch.feed()
        self._handoff.post(self._fuse_velocity, *velocity_to_rep103(payload))

    def _sdk_imu(self, payload: Any) -> None:
        self._watch.feed()
        self._handoff.post(self._fuse_imu, imu_to_rep103(payload))

    def _sdk_esc(self, payload: Any) -> None:
        self._watch.feed()
        # Convert now: the SDK reuses and overwrites its speed list on the next push.
        self._handoff.post(self._events.on_wheels, esc_to_wheels(payload))

    def _sdk_battery(self, percent: Any) -> None:
        self._watch.feed()
        self._handoff.post(self._events.on_battery, float(percent))

    def _sdk_hit(self, payload: Any) -> None:
        self._watch.feed()
        armor_id, hit_type = payload[0], payload[1]
        self._handoff.post(self._events.on_collision, int(armor_id), str(hit_type))

    # fusion (node thread) ------------------------------------------------------------
    def _fuse_position(self, x: float, y: float) -> None:
        self._odom.x, self._odom.y = x, y
        self._events.on_odom(OdomSample(**vars(self._odom)))

    def _fuse_attitude(self, attitude: Tuple[float, float, float]) -> None:
        self._attitude = attitude
        self._odom.yaw = attitude[2]

    def _fuse_velocity(self, vx: float, vy: float) -> None:
        self._odom.vx, self._odom.vy = vx, vy

    def _fuse_imu(self, sample: Any) -> None:
        sample.roll, sample.pitch, sample.yaw = self._attitude
        self._odom.wz = sample.gz   # the chassis' yaw rate is the gyro's
        self._events.on_imu(sample)
