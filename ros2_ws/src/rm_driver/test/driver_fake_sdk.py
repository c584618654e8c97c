"""A stand-in for robomaster.robot.Robot built from the SDK's documented API.

Same call signatures (sub_*(freq=5, callback=None, *args, **kw), drive_speed(x, y, z,
timeout=None), move(x, y, z, xy_speed, z_speed), initialize(conn_type, proto_type, sn)),
same payload tuples and units (position m, attitude deg, imu g and deg/s, esc rpm as
lists the SDK overwrites in place), and callbacks invoked as the SDK's dds Subject
does: callback(data_info(), *args, **kw) from the fake's own dispatcher thread.
A FakeWorld is the robot out there; each Robot() is one connection to it.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

SDK_FREQS = (1, 5, 10, 20, 50)
CONN_TYPES = ('ap', 'sta', 'rndis')


class FakeAction:
    """Like robomaster.chassis.ChassisMoveAction for what the driver reads."""

    def __init__(self, **kwargs: float) -> None:
        self.kwargs = kwargs
        self.state = 'action_started'
        self._done = threading.Event()

    @property
    def is_completed(self) -> bool:
        return self.state in ('action_succeeded', 'action_failed', 'action_exception',
                              'action_rejected')

    @property
    def has_succeeded(self) -> bool:
        return self.state == 'action_succeeded'

    @property
    def has_failed(self) -> bool:
        return self.state == 'action_failed'

    def finish(self, succeeded: bool = True) -> None:
        self.state = 'action_succeeded' if succeeded else 'action_failed'
        self._done.set()

    def wait_for_completed(self, timeout: Optional[float] = None) -> bool:
        # As the SDK: a timeout turns the action into an exception.
        if not self._done.wait(timeout):
            self.state = 'action_exception'
            return False
        return True


class FakeWorld:
    """The robot's side: what it measures now, whether it can be reached."""

    def __init__(self, serial: str = '3JKCK980030E3K', ip: str = '192.168.0.42') -> None:
        self.serial = serial
        self.ip = ip
        self.link_up = True
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
        self._world.drive_calls.append({'x': x, 'y': y, 'z': z, 'timeout': timeout})
        return True

    def move(self, x=0, y=0, z=0, xy_speed=0.5, z_speed=30) -> FakeAction:
        action = FakeAction(x=x, y=y, z=z, xy_speed=xy_speed, z_speed=z_speed)
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
        self.subscriptions: Dict[str, _Subscription] = {}
        self.events: Dict[str, Tuple[Callable, tuple, dict]] = {}
        self.cs: Optional[int] = None
        self.initialize_args: Optional[Dict[str, Any]] = None
        self._event_queue: 'queue.Queue[Tuple[str, Any]]' = queue.Queue()
        self._lock = threading.Lock()
        self._running = False
        self._thread: Optional[threading.Thread] = None

    @property
    def ip(self) -> str:
        return self.world.ip

    def initialize(self, conn_type='sta', proto_type='udp', sn=None) -> bool:
        if conn_type not in CONN_TYPES:
            raise ValueError(f'conn_type {conn_type!r}')
        self.initialize_args = {'conn_type': conn_type, 'proto_type': proto_type, 'sn': sn}
        if not self.world.link_up or (sn is not None and sn != self.world.serial):
            return False
        self._running = True
        self._thread = threading.Thread(target=self._dispatch, name='fake-sdk-dispatch',
                                        daemon=True)
        self._thread.start()
        return True

    def get_sn(self) -> str:
        return self.world.serial

    def set_robot_mode(self, mode='gimbal_lead') -> bool:
        self.world.modes.append(mode)
        return mode in ('free', 'gimbal_lead', 'chassis_lead')

    def close(self) -> None:
        self._running = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    # plumbing ---------------------------------------------------------------------
    def add(self, name: str, freq: int, callback: Callable, args: tuple, kw: dict,
            payload: Callable[[], Any]) -> bool:
        with self._lock:
            self.subscriptions[name] = _Subscription(freq, callback, args, kw, payload)
        return True

    def remove(self, name: str) -> bool:
        with self._lock:
            return self.subscriptions.pop(name, None) is not None

    def push_event(self, name: str, payload: Any) -> None:
        self._event_queue.put((name, payload))

    def _dispatch(self) -> None:
        while self._running:
            now = time.monotonic()
            if self.world.link_up:
                with self._lock:
                    due = [s for s in self.subscriptions.values() if s.next_due <= now]
                for sub in due:
                    sub.next_due = now + 1.0 / sub.freq
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
