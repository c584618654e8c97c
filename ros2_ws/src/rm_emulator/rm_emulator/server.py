"""The emulator's sockets and its one-thread select loop around EmulatedRobot.

Bound to the robot's address only: UDP 30030 (handshake), UDP 20020 (link), TCP 21
(FTP), and in sta mode a broadcast of the serial to UDP 40927 and 45678; plus the
control socket (UNIX stream, JSON lines) when a path is given."""

from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import time
from typing import Dict, Optional

from rm_emulator.control import handle_request
from rm_emulator.ftp import FtpSessions
from rm_emulator.robot import EmulatedRobot

HANDSHAKE_PORT = 30030
LINK_PORT = 20020
FTP_PORT = 21
BROADCAST_SERIAL_PORT = 40927        # the SDK's scan with a serial (conn.py)
BROADCAST_LEGACY_PORT = 45678        # the SDK's scan without one
BROADCAST_PERIOD = 0.5               # s; the SDK's scan waits 1 s per attempt
DEFAULT_ADDRESSES = {'ap': '192.168.2.1', 'rndis': '192.168.42.2'}
MAX_WAIT = 0.5                       # s: the loop wakes at least this often

log = logging.getLogger('rm_emulator')


class EmulatorServer:
    """Serve one EmulatedRobot on `address` until stop() (or a signal) ends serve()."""

    def __init__(self, robot: EmulatedRobot, conn_type: str, address: str,
                 broadcast_serial: bool = True, control_path: Optional[str] = None) -> None:
        if conn_type not in ('ap', 'sta', 'rndis'):
            raise ValueError(f"conn_type {conn_type!r} must be 'ap', 'sta' or 'rndis'")
        self.robot = robot
        self.conn_type = conn_type
        self.address = address
        self.broadcast_serial = broadcast_serial
        self.control_path = control_path
        self.ftp = FtpSessions()
        self._selector = selectors.DefaultSelector()
        self._control: Dict[socket.socket, bytes] = {}
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._next_broadcast = 0.0
        self._sockets = []

    def open(self) -> None:
        """Bind every socket; raises OSError naming the address when one cannot."""
        self._handshake = self._udp(HANDSHAKE_PORT)
        self._link = self._udp(LINK_PORT)
        self._ftp_listener = self._listen_tcp(FTP_PORT)
        self._broadcast = None
        if self.conn_type == 'sta':
            self._broadcast = self._udp(0)
            self._broadcast.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if self.control_path:
            # bound under another name and renamed once listening: whoever waits for the
            # path to appear can connect at once (between bind and listen it is refused)
            staging = self.control_path + '.new'
            if os.path.exists(staging):
                os.unlink(staging)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(staging)
            listener.listen(8)
            os.rename(staging, self.control_path)
            self._sockets.append(listener)
            self._selector.register(listener, selectors.EVENT_READ, 'control_listener')
        self._selector.register(self._handshake, selectors.EVENT_READ, 'handshake')
        self._selector.register(self._link, selectors.EVENT_READ, 'link')
        self._selector.register(self._ftp_listener, selectors.EVENT_READ, 'ftp_listener')
        self._selector.register(self._wake_r, selectors.EVENT_READ, 'wake')
        log.info('EP emulator (%s, serial %s) on %s: handshake udp %d, link udp %d, ftp tcp %d%s',
                 self.conn_type, self.robot.serial, self.address, HANDSHAKE_PORT, LINK_PORT,
                 FTP_PORT, f', control {self.control_path}' if self.control_path else '')

    def _udp(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sockets.append(sock)
        try:
            sock.bind((self.address, port))
        except OSError as error:
            raise OSError(error.errno, f'cannot bind udp {self.address}:{port}: '
                          f'{error.strerror}') from None
        sock.setblocking(False)
        return sock

    def _listen_tcp(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sockets.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.address, port))
        except OSError as error:
            raise OSError(error.errno, f'cannot bind tcp {self.address}:{port}: '
                          f'{error.strerror}') from None
        sock.listen(8)
        sock.setblocking(False)
        return sock

    def stop(self) -> None:
        """Safe from a signal handler or another thread."""
        self._stopping = True
        try:
            self._wake_w.send(b'x')
        except OSError:
            pass

    def serve(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            wake_at = min(t for t in (self.robot.next_due(), self._broadcast_due(),
                                      now + MAX_WAIT) if t is not None)
            for key, _ in self._selector.select(max(0.0, wake_at - now)):
                self._readable(key.fileobj, key.data)
            now = time.monotonic()
            self._flush(now)
            if self._broadcast is not None and now >= self._next_broadcast:
                self._send_broadcast(now)

    def close(self) -> None:
        self.ftp.close_all()
        for conn in list(self._control):
            conn.close()
        for sock in self._sockets + [self._wake_r, self._wake_w]:
            sock.close()
        self._selector.close()
        if self.control_path and os.path.exists(self.control_path):
            os.unlink(self.control_path)

    def _broadcast_due(self) -> Optional[float]:
        return self._next_broadcast if self._broadcast is not None else None

    def _readable(self, sock: socket.socket, role: str) -> None:
        now = time.monotonic()
        if role == 'handshake':
            data, source = _recv(sock)
            if data is not None:
                reply = self.robot.handshake(data, source, now)
                if reply is not None:
                    _sendto(sock, reply, source)
        elif role == 'link':
            data, source = _recv(sock)
            if data is not None:
                self.robot.receive(data, source, now)
                self._flush(now)
        elif role == 'ftp_listener':
            conn = self.ftp.accept(sock, self.robot.faults.ftp_silent)
            self._selector.register(conn, selectors.EVENT_READ, 'ftp')
        elif role == 'ftp':
            if not self.ftp.readable(sock):
                self._selector.unregister(sock)
        elif role == 'control_listener':
            conn, _ = sock.accept()
            self._control[conn] = b''
            self._selector.register(conn, selectors.EVENT_READ, 'control')
            log.info('control connection')
        elif role == 'control':
            self._control_readable(sock, now)
        elif role == 'wake':
            sock.recv(64)

    def _control_readable(self, conn: socket.socket, now: float) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b''
        if not data:
            self._selector.unregister(conn)
            self._control.pop(conn, None)
            conn.close()
            return
        *lines, rest = (self._control[conn] + data).split(b'\n')
        self._control[conn] = rest
        for line in lines:
            if not line.strip():
                continue
            try:
                reply = handle_request(self.robot, json.loads(line), now)
            except ValueError as error:
                reply = {'ok': False, 'error': f'not JSON: {error}'}
            try:
                conn.sendall(json.dumps(reply).encode() + b'\n')
            except OSError:
                pass
        self._flush(now)

    def _flush(self, now: float) -> None:
        for data in self.robot.due(now):
            _sendto(self._link, data, self.robot.peer)

    def _send_broadcast(self, now: float) -> None:
        self._next_broadcast = now + BROADCAST_PERIOD
        if not self.robot.faults.link_up:
            return
        if self.broadcast_serial:
            payload = self.robot.serial.encode('ascii') + b'\x00'
            _sendto(self._broadcast, payload, ('255.255.255.255', BROADCAST_SERIAL_PORT))
            _sendto(self._broadcast, payload, ('255.255.255.255', BROADCAST_LEGACY_PORT))
        else:
            _sendto(self._broadcast, b'\x00', ('255.255.255.255', BROADCAST_LEGACY_PORT))


def _recv(sock: socket.socket):
    try:
        return sock.recvfrom(4096)
    except OSError:
        return None, None


def _sendto(sock: socket.socket, data: bytes, address) -> None:
    # A cut link or a closed SDK port must not stop the robot.
    try:
        sock.sendto(data, address)
    except OSError as error:
        log.debug('send to %s failed: %s', address, error)
