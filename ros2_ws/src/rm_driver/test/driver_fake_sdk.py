"""A stand-in for robomaster.robot.Robot built from the SDK's documented API.

Same call signatures (sub_*(freq=5, callback=None, *args, **kw), drive_speed(x, y, z,
timeout=None), move(x, y, z, xy_speed, z_speed), initialize(conn_type, proto_type, sn)),
same payload tuples and units (position m, attitude deg, imu g and deg/s, esc rpm as
lists the SDK overwrites in place), and callbacks invoked as the SDK's dds Subject
does: callback(data_info(), *args, **kw) from the fake's own dispatcher thread.
A FakeWorld is the robot out there; each Robot() is one connection to it.
It also behaves as robomaster 0.1.1.68 really does where that differs from its docs
(each such place cites the SDK file), so the adapter is tested against those too.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

SDK_FREQS = (1, 5, 10, 20, 50)
CONN_AP, CONN_STA, CONN_RNDIS = 'ap', 'sta', 'rndis'   # conn.py:32-34
ACK_TIMEOUT = 3.0       # client.py:151 send_sync_msg(timeout=3.0): an acked call, link down
CONNECT_TIMEOUT = 5.0   # conn.py:246 switch_remote_route(timeout=5): initialize with no robot
COMPLETED = ('action_succeeded', 'action_failed', 'action_exception', 'action_rejected')


class FakeAction:
    """Like robomaster.chassis.ChassisMoveAction for what the driver reads (action.py)."""

    def __init__(self, **kwargs: float) -> None:
        self.kwargs = kwargs
        self.state = 'action_started'
        self._event = threading.Event()
        self._dispatcher: Optional['FakeActionDispatcher'] = None

    @property
    def is_completed(self) -> bool:
        return self.state in COMPLETED

    @property
    def has_succeeded(self) -> bool:
        return self.state == 'action_succeeded'

    @property
    def has_failed(self) -> bool:
        return self.state == 'action_failed'

    def finish(self, succeeded: bool = True) -> None:
        """The robot's final push for this action."""
        self._changeto_state('action_succeeded' if succeeded else 'action_failed')

    def _changeto_state(self, state: str) -> None:
        # action.py:164-175: a completed action leaves the dispatcher's in-progress table.
        if state == self.state:
            return
        self.state = state
        if self.is_completed:
            if self._dispatcher is not None:
                self._dispatcher.completed(self)
            self._event.set()

    def wait_for_completed(self, timeout: Optional[float] = None) -> bool:
        # action.py:177-198: a timeout turns the action into action_exception (finished);
        # a falsy timeout (None or 0) waits for ever.
        if self._event.is_set() and self.is_completed:
            return True
        if timeout:
            if not self._event.wait(timeout):
                self._changeto_state('action_exception')
                return False
        else:
            self._event.wait()
        return True


class FakeActionDispatcher:
    """action.py ActionDispatcher, one per connection, for the chassis' actions."""

    def __init__(self) -> None:
        self._in_progress_mutex = threading.Lock()
        self._in_progress: Dict[int, FakeAction] = {}

    @property
    def has_in_progress_actions(self) -> bool:
        return len(self._in_progress) > 0

    def send_action(self, action: FakeAction) -> None:
        # action.py:349-357: raises while holding _in_progress_mutex and never releases it.
        if self.has_in_progress_actions:
            self._in_progress_mutex.acquire()
            if self._in_progress:
                current = list(self._in_progress.values())[0]
                raise Exception(f'Robot is already performing {len(self._in_progress)} '
                                f'action(s) {current.state}')
            self._in_progress_mutex.release()
        action._dispatcher = self
        self._in_progress[id(action)] = action

    def on_recv(self) -> None:
        # action.py:298: the receive thread takes the mutex for every message it receives.
        with self._in_progress_mutex:
            pass

    def completed(self, action: FakeAction) -> None:
        with self._in_progress_mutex:   # action.py:379
            self._in_progress.pop(id(action), None)


class FakeFTP:
    """ftplib.FTP() as conn.py:474 builds it: no timeout, so connecting to a robot whose
    port 21 accepts and never greets blocks for ever (robot.py:1327 in initialize)."""

    def __init__(self, world: 'FakeWorld') -> None:
        self._world = world
        self.timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT  # noqa: SLF001 - as ftplib's

    def connect(self, host: str, port: int) -> str:
        if self._world.ftp_silent:
            timeout = None if self.timeout is socket._GLOBAL_DEFAULT_TIMEOUT else self.timeout
            if not self._world.ftp_release.wait(timeout):
                raise socket.timeout('timed out')
        return '220 welcome'

    def close(self) -> None:
        pass


class FakeFtpConnection:
    """conn.py:471 FtpConnection, whose FTP object is `_ftp`."""

    def __init__(self, world: 'FakeWorld') -> None:
        self._ftp = FakeFTP(world)

    def connect(self, ip: str) -> str:
        return self._ftp.connect(ip, 21)

    def stop(self) -> None:
        self._ftp.close()


class FakeWorld:
    """The robot's side: what it measures now, whether it can be reached."""

    def __init__(self, serial: str = '3JKCK980030E3K', ip: str = '192.168.0.42',
                 connect_timeout: float = CONNECT_TIMEOUT,
                 ack_timeout: float = ACK_TIMEOUT) -> None:
        self.serial = serial
        self.ip = ip
        self.link_up = True
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.held_streams: set = set()   # streams the robot has not started pushing yet
        self.ftp_silent = False          # port 21 accepts and never greets
        self.ftp_release = threading.Event()
        self.position: Tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.attitude: Tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.imu: Tuple[float, ...] = (0.0, 0.0, -1.0, 0.0, 0.0, 0.0)
        self.velocity: Tuple[float, ...] = (0.0,) * 6
        self.esc_speed: List[int] = [0, 0, 0, 0]
        self.battery = 87
        self.robots: List['FakeRobot'] = []
        self.drive_calls: List[Dict[str, Any]] = []
        self.moves: List[FakeAction] = []
        self.modes: List[str] = []
        self.callback_threads: set = set()
        self.raise_on_drive: Optional[Exception] = None

    def factory(self) -> 'FakeRobot':
        robot = FakeRobot(self)
        self.robots.append(robot)
        return robot

    def hit(self, armor_id: int, hit_type: str) -> None:
        for robot in self.robots:
            robot.push_event('hit_event', (armor_id, hit_type))


class _Subscription:
    def __init__(self, freq: int, callback: Callable, args: tuple, kw: dict,
                 payload: Callable[[], Any]) -> None:
        if freq not in SDK_FREQS:
            raise ValueError(f'freq {freq} is not one of {SDK_FREQS}')
        self.freq = freq
        self.callback = callback
        self.args = args
        self.kw = kw
        self.payload = payload
        self.next_due = 0.0
        self.pushed = False   # dds.py: the subject's _task stays None until the first push


class FakeChassis:
    def __init__(self, robot: 'FakeRobot') -> None:
        self._robot = robot
        self._world = robot.world
        # The SDK's EscSubject keeps these lists and overwrites them on every push.
        self._esc = ([0] * 4, [0] * 4, [0] * 4, [0] * 4)

    def _esc_payload(self):
        self._esc[0][:] = self._world.esc_speed
        return self._esc

    def sub_position(self, cs=0, freq=5, callback=None, *args, **kw) -> bool:
        self._robot.cs = cs
        return self._robot.add('position', freq, callback, args, kw,
                               lambda: tuple(self._world.position))

    def sub_attitude(self, freq=5, callback=None, *args, **kw) -> bool:
        return self._robot.add('attitude', freq, callback, args, kw,
                               lambda: tuple(self._world.attitude))

    def sub_imu(self, freq=5, callback=None, *args, **kw) -> bool:
        return self._robot.add('imu', freq, callback, args, kw, lambda: tuple(self._world.imu))

    def sub_velocity(self, freq=5, callback=None, *args, **kw) -> bool:
        return self._robot.add('velocity', freq, callback, args, kw,
                               lambda: tuple(self._world.velocity))

    def sub_esc(self, freq=5, callback=None, *args, **kw) -> bool:
        return self._robot.add('esc', freq, callback, args, kw, self._esc_payload)

    def unsub_position(self) -> bool:
        return self._robot.remove('position')

    def unsub_attitude(self) -> bool:
        return self._robot.remove('attitude')

    def unsub_imu(self) -> bool:
        return self._robot.remove('imu')

    def unsub_velocity(self) -> bool:
        return self._robot.remove('velocity')

    def unsub_esc(self) -> bool:
        return self._robot.remove('esc')

    def drive_speed(self, x=0.0, y=0.0, z=0.0, timeout=None) -> bool:
        if self._world.raise_on_drive is not None:
            error, self._world.raise_on_drive = self._world.raise_on_drive, None
            raise error
        # util.py:140-142 val2proto: x, y rounded to 0.01 m/s, z to whole deg/s.
        self._world.drive_calls.append({'x': round(x, 2), 'y': round(y, 2), 'z': round(z),
                                        'timeout': timeout})
        # A push message: no ack, so send_sync_msg returns None (client.py:188, protocol.py:1503)
        # and _send_sync_proto returns False (module.py:104-107).
        return False

    def move(self, x=0, y=0, z=0, xy_speed=0.5, z_speed=30) -> FakeAction:
        action = FakeAction(x=x, y=y, z=z, xy_speed=xy_speed, z_speed=z_speed)
        self._robot.action_dispatcher.send_action(action)   # chassis.py:487-489
        self._world.moves.append(action)
        return action


class FakeBattery:
    def __init__(self, robot: 'FakeRobot') -> None:
        self._robot = robot

    def sub_battery_info(self, freq=5, callback=None, *args, **kw) -> bool:
        return self._robot.add('battery', freq, callback, args, kw,
                               lambda: self._robot.world.battery)

    def unsub_battery_info(self) -> bool:
        return self._robot.remove('battery')


class FakeArmor:
    def __init__(self, robot: 'FakeRobot') -> None:
        self._robot = robot

    def sub_hit_event(self, callback=None, *args, **kw) -> bool:
        self._robot.events['hit_event'] = (callback, args, kw)
        return True

    def unsub_hit_event(self) -> bool:
        self._robot.events.pop('hit_event', None)
        return True


class FakeRobot:
    """One connection: initialize() starts the dispatcher thread, close() ends it."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.chassis = FakeChassis(self)
        self.battery = FakeBattery(self)
        self.armor = FakeArmor(self)
        self.action_dispatcher = FakeActionDispatcher()
        self._ftp = FakeFtpConnection(world)   # robot.py:1113, built before initialize()
        self.subscriptions: Dict[str, _Subscription] = {}
        self.events: Dict[str, Tuple[Callable, tuple, dict]] = {}
        self.cs: Optional[int] = None
        self.initialize_args: Optional[Dict[str, Any]] = None
        self.closed = False
        self._event_queue: 'queue.Queue[Tuple[str, Any]]' = queue.Queue()
        self._lock = threading.Lock()
        self._running = False
        self._initialized = False
        self._thread: Optional[threading.Thread] = None

    @property
    def ip(self) -> str:
        return self.world.ip

    def initialize(self, conn_type='ap', proto_type='udp', sn=None) -> bool:
        self.initialize_args = {'conn_type': conn_type, 'proto_type': proto_type, 'sn': sn}
        # conn.py:285-321 compares conn_type with `is`: any other object leaves proxy_addr unset.
        if conn_type is not CONN_AP and conn_type is not CONN_STA and conn_type is not CONN_RNDIS:
            raise UnboundLocalError("local variable 'proxy_addr' referenced before assignment")
        if not self.world.link_up or (sn is not None and sn != self.world.serial):
            # No robot: conn.py:246 waits, then robot.ip hits client.py:95 `raise print(...)`.
            time.sleep(self.world.connect_timeout)
            raise TypeError('exceptions must derive from BaseException')
        self._running = True
        self._thread = threading.Thread(target=self._dispatch, name='fake-sdk-dispatch',
                                        daemon=True)
        self._thread.start()
        self._ftp.connect(self.ip)   # robot.py:1327, after the client has started
        self._initialized = True
        return True

    def get_sn(self) -> str:
        return self.world.serial if self._acked() else None

    def set_robot_mode(self, mode='gimbal_lead') -> bool:
        self.world.modes.append(mode)
        if mode != 'free':
            self._acked()   # robot.py:1391: reset_robot_mode() first, its answer unused
        return self._acked() and mode in ('free', 'gimbal_lead', 'chassis_lead')

    def close(self) -> None:
        self._ftp.stop()
        if self._thread is None:   # client.py:132: stop() on a client that never started
            raise AttributeError("'NoneType' object has no attribute 'is_alive'")
        if self._initialized:
            self._acked()   # robot.py:1338 _enable_sdk(0) waits for the robot's ack
        self._running = False
        if self._thread is not threading.current_thread():
            self._thread.join()   # client.py:137 joins the receive thread with no timeout
        self.closed = True

    # plumbing ---------------------------------------------------------------------
    def _acked(self) -> bool:
        """An acked request (module.py _send_sync_proto): no answer while the link is down."""
        if self.world.link_up:
            return True
        time.sleep(self.world.ack_timeout)
        return False

    def add(self, name: str, freq: int, callback: Callable, args: tuple, kw: dict,
            payload: Callable[[], Any]) -> bool:
        with self._lock:
            self.subscriptions[name] = _Subscription(freq, callback, args, kw, payload)
        return self._acked()   # dds.py:279 add_subject_info

    def remove(self, name: str) -> bool:
        with self._lock:
            sub = self.subscriptions.get(name)
        if sub is not None and not sub.pushed:
            # dds.py:291 del_subject_info: _task.done() on a stream that never pushed.
            raise AttributeError("'NoneType' object has no attribute 'done'")
        with self._lock:
            self.subscriptions.pop(name, None)
        return sub is not None and self._acked()

    def push_event(self, name: str, payload: Any) -> None:
        self._event_queue.put((name, payload))

    def _dispatch(self) -> None:
        while self._running:
            now = time.monotonic()
            if self.world.link_up:
                self.action_dispatcher.on_recv()
                with self._lock:
                    due = [(name, s) for name, s in self.subscriptions.items()
                           if s.next_due <= now and name not in self.world.held_streams]
                for _, sub in due:
                    sub.next_due = now + 1.0 / sub.freq
                    sub.pushed = True
                    self._deliver(sub.callback, sub.payload(), sub.args, sub.kw)
                while not self._event_queue.empty():
                    name, payload = self._event_queue.get_nowait()
                    if name in self.events:
                        callback, args, kw = self.events[name]
                        self._deliver(callback, payload, args, kw)
            time.sleep(0.005)

    def _deliver(self, callback: Callable, payload: Any, args: tuple, kw: dict) -> None:
        self.world.callback_threads.add(threading.get_ident())
        callback(payload, *args, **kw)
        if isinstance(payload, tuple) and payload and isinstance(payload[0], list):
            payload[0][:] = [-9999] * len(payload[0])  # the SDK overwrites its lists later
