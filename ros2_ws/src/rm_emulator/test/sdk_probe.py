"""Drives the real robomaster SDK (Python 3.8) through a scenario against the emulator.

Run as `$RM_SDK_PYTHON sdk_probe.py '<json>'` in the SDK's namespace; the JSON holds
`conn_type`, optional `sn`, `control` (the emulator's control socket) and `steps`, a
list of [name, {args}]. Prints one JSON object per step on stdout. Every wait is
bounded; a step that blocks past its bound reports {"hung": true}.
"""

import json
import socket
import sys
import threading
import time

from robomaster import robot as rm_robot

STREAMS = ('position', 'attitude', 'velocity', 'imu', 'esc', 'battery')


class Probe:
    def __init__(self, config):
        self.config = config
        self.robot = rm_robot.Robot()
        self.received = {name: [] for name in STREAMS + ('hit', 'position_cs1')}
        self.lock = threading.Lock()

    def emit(self, step, **result):
        print(json.dumps(dict(step=step, **result), default=str), flush=True)

    def bounded(self, seconds, func, *args, **kw):
        """Run func in a daemon thread; (returned, value or exception text)."""
        box = {}

        def target():
            try:
                box['value'] = func(*args, **kw)
            except Exception as error:       # the SDK raises odd types (TypeError...)
                box['error'] = '{}: {}'.format(type(error).__name__, error)
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(seconds)
        if thread.is_alive():
            return False, None
        return True, box

    def record(self, name):
        def callback(info, *args):
            with self.lock:
                self.received[name].append((time.monotonic(), info))
        return callback

    # Steps.

    def step_init(self, timeout=30.0, ftp_timeout=None):
        if ftp_timeout is not None:
            self.robot._ftp._ftp.timeout = ftp_timeout
        conn_type = {'ap': 'ap', 'sta': 'sta', 'rndis': 'rndis'}[self.config['conn_type']]
        start = time.monotonic()
        done, box = self.bounded(timeout, self.robot.initialize, conn_type=conn_type,
                                 sn=self.config.get('sn'))
        self.emit('init', hung=not done, seconds=time.monotonic() - start,
                  value=box.get('value') if done else None,
                  error=box.get('error') if done else None)

    def step_get_sn(self):
        self.emit('get_sn', value=self.robot.get_sn())

    def step_get_version(self):
        self.emit('get_version', value=self.robot.get_version())

    def step_set_mode(self, mode):
        ok = self.robot.set_robot_mode(mode=mode)
        self.emit('set_mode', ok=ok, value=self.robot.get_robot_mode())

    def step_subscribe(self, freq, streams=STREAMS, cs=1):
        chassis, results = self.robot.chassis, {}
        for name in streams:
            if name == 'position':
                results[name] = chassis.sub_position(cs=cs, freq=freq,
                                                     callback=self.record(name))
            elif name == 'battery':
                results[name] = self.robot.battery.sub_battery_info(
                    freq=freq, callback=self.record(name))
            else:
                subscribe = getattr(chassis, 'sub_' + name)
                results[name] = subscribe(freq=freq, callback=self.record(name))
        self.emit('subscribe', results=results)

    def step_sub_hit(self):
        self.emit('sub_hit', ok=self.robot.armor.sub_hit_event(callback=self.record('hit')))

    def step_unsubscribe(self, streams=STREAMS):
        results = {}
        for name in streams:
            if name == 'battery':
                func = self.robot.battery.unsub_battery_info
            else:
                func = getattr(self.robot.chassis, 'unsub_' + name)
            done, box = self.bounded(5.0, func)
            results[name] = box.get('value', box.get('error')) if done else 'hung'
        self.emit('unsubscribe', results=results)

    def step_count(self, seconds):
        """Callbacks per stream over a window, and the last value of each."""
        with self.lock:
            before = {k: len(v) for k, v in self.received.items()}
        time.sleep(seconds)
        with self.lock:
            counts = {k: len(v) - before[k] for k, v in self.received.items()}
            last = {k: v[-1][1] for k, v in self.received.items() if v}
            totals = {k: len(v) for k, v in self.received.items()}
        self.emit('count', seconds=seconds, counts=counts, last=last, totals=totals)

    def step_drive(self, x=0.0, y=0.0, z=0.0):
        self.emit('drive', value=self.robot.chassis.drive_speed(x=x, y=y, z=z))

    def step_move(self, x=0.0, y=0.0, z=0.0, xy_speed=0.5, z_speed=30.0, wait=10.0):
        try:
            action = self.robot.chassis.move(x=x, y=y, z=z, xy_speed=xy_speed,
                                             z_speed=z_speed)
        except Exception as error:
            self.emit('move', raised='{}: {}'.format(type(error).__name__, error))
            return
        first_state = action.state
        deadline = time.monotonic() + wait
        percents = []
        while time.monotonic() < deadline and not action.is_completed:
            if not percents or percents[-1] != action._percent:
                percents.append(action._percent)
            time.sleep(0.02)
        self.emit('move', completed=action.is_completed, state=action.state,
                  percents=percents, first_state=first_state,
                  pos=[getattr(action, '_pos_' + axis, None) for axis in 'xyz'])

    def step_control(self, **request):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5.0)
        sock.connect(self.config['control'])
        sock.sendall(json.dumps(request).encode() + b'\n')
        reply = b''
        while not reply.endswith(b'\n'):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        sock.close()
        self.emit('control', request=request, reply=json.loads(reply.decode()))

    def step_sleep(self, seconds):
        time.sleep(seconds)
        self.emit('sleep', seconds=seconds)

    def step_close(self, timeout=30.0):
        start = time.monotonic()
        done, box = self.bounded(timeout, self.robot.close)
        self.emit('close', hung=not done, seconds=time.monotonic() - start,
                  error=box.get('error') if done else None)


def main():
    config = json.loads(sys.argv[1])
    probe = Probe(config)
    for name, args in config['steps']:
        getattr(probe, 'step_' + name)(**args)
    sys.stdout.flush()
    # SDK threads (heartbeat timer, receive loop) may outlive a hung close: leave now.
    import os
    os._exit(0)


if __name__ == '__main__':
    main()
