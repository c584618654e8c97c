"""The robot's FTP port (TCP 21): initialize() connects and reads the greeting, close()
drops the connection. Only the greeting and QUIT are served; the silent fault accepts
and never greets, which hangs an SDK that set no timeout."""

from __future__ import annotations

import logging
import socket
from typing import Dict

GREETING = b'220 RoboMaster EP FTP server ready.\r\n'
log = logging.getLogger('rm_emulator')


class FtpSessions:
    """The open FTP connections, driven by the emulator's select loop."""

    def __init__(self) -> None:
        self.sessions: Dict[socket.socket, bytes] = {}
        self.accepted = 0

    def accept(self, listener: socket.socket, silent: bool) -> socket.socket:
        conn, peer = listener.accept()
        conn.setblocking(False)
        self.accepted += 1
        self.sessions[conn] = b''
        log.info('ftp connection from %s:%d%s', peer[0], peer[1],
                 ' (silent: no greeting)' if silent else '')
        if not silent:
            _send(conn, GREETING)
        return conn

    def readable(self, conn: socket.socket) -> bool:
        """Serve what arrived; False when the connection is over (closed here)."""
        try:
            data = conn.recv(4096)
        except OSError:
            data = b''
        if not data:
            self.close(conn)
            return False
        buffer = self.sessions[conn] + data
        *lines, rest = buffer.split(b'\n')
        self.sessions[conn] = rest[-1024:]
        for line in lines:
            if line.strip().upper().startswith(b'QUIT'):
                _send(conn, b'221 Bye.\r\n')
                self.close(conn)
                return False
            _send(conn, b'502 Command not implemented.\r\n')
        return True

    def close(self, conn: socket.socket) -> None:
        if self.sessions.pop(conn, None) is not None:
            log.info('ftp connection closed')
        conn.close()

    def close_all(self) -> None:
        for conn in list(self.sessions):
            self.close(conn)


def _send(conn: socket.socket, data: bytes) -> None:
    try:
        conn.sendall(data)
    except OSError as error:
        log.info('ftp send failed: %s', error)
