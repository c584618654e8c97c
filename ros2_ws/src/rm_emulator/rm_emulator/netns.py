"""A private two-namespace network for tests: the robot side holds the conn type's robot
address, the SDK side an address the SDK binds its link to, joined by a veth pair.

The namespaces are held by `unshare --net sleep infinity` children (no `ip netns add`,
so nothing global is named or left behind) and vanish when those are killed by PID.
Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN); works inside an `unshare --net`."""

from __future__ import annotations

import os
import subprocess
import time
from typing import List, Optional

# conn type -> (robot address, SDK address, prefix length). ap and rndis are what the
# SDK hard-codes (config.py: robot 192.168.2.1 and 192.168.42.2, and for rndis the SDK
# binds 192.168.42.3); in ap and sta the robot tells the SDK its address (state 2).
ADDRESSES = {
    'ap': ('192.168.2.1', '192.168.2.23', 24),
    'sta': ('192.168.10.2', '192.168.10.23', 24),
    'rndis': ('192.168.42.2', '192.168.42.3', 24),
}
ROBOT_IFACE = 'rm-robot'
SDK_IFACE = 'rm-sdk'
COMMAND_TIMEOUT = 10.0


class NetnsError(RuntimeError):
    """Setting up the private network failed; the message holds the command's output."""


class PrivateLink:
    """Two network namespaces joined by a veth pair; a context manager."""

    def __init__(self, conn_type: str = 'ap') -> None:
        if conn_type not in ADDRESSES:
            raise ValueError(f"conn_type {conn_type!r} must be one of {', '.join(ADDRESSES)}")
        self.conn_type = conn_type
        self.robot_address, self.sdk_address, self._prefix_len = ADDRESSES[conn_type]
        self._holders = {}
        try:
            self._holders['robot'] = _hold_namespace()
            self._holders['sdk'] = _hold_namespace()
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        sdk_pid = self._holders['sdk'].pid
        self.run('robot', 'ip', 'link', 'add', ROBOT_IFACE, 'type', 'veth', 'peer', 'name',
                 SDK_IFACE, 'netns', str(sdk_pid))
        for side, iface, address in (('robot', ROBOT_IFACE, self.robot_address),
                                     ('sdk', SDK_IFACE, self.sdk_address)):
            self.run(side, 'ip', 'link', 'set', 'lo', 'up')
            self.run(side, 'ip', 'addr', 'add', f'{address}/{self._prefix_len}', 'dev', iface)
            self.run(side, 'ip', 'link', 'set', iface, 'up')

    def prefix(self, side: str) -> List[str]:
        """argv prefix running a command in that side's namespace ('robot' or 'sdk')."""
        holder = self._holders.get(side)
        if holder is None:
            raise ValueError(f"side {side!r} must be 'robot' or 'sdk' of an open link")
        return ['nsenter', f'--net=/proc/{holder.pid}/ns/net', '--']

    def run(self, side: str, *argv: str) -> str:
        """Run a short command in a namespace; NetnsError with its output on failure."""
        try:
            done = subprocess.run(self.prefix(side) + list(argv), capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise NetnsError(f'{" ".join(argv)} in {side} took over {COMMAND_TIMEOUT} s')
        if done.returncode != 0:
            raise NetnsError(f'{" ".join(argv)} in {side} failed ({done.returncode}): '
                             f'{done.stderr.strip()}')
        return done.stdout

    def cut(self) -> None:
        """Take the veth down: both sides lose carrier (and the route to the other)."""
        self.run('robot', 'ip', 'link', 'set', ROBOT_IFACE, 'down')

    def restore(self) -> None:
        self.run('robot', 'ip', 'link', 'set', ROBOT_IFACE, 'up')

    def close(self) -> None:
        for side in list(self._holders):
            holder = self._holders.pop(side)
            holder.kill()
            try:
                holder.wait(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self) -> 'PrivateLink':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hold_namespace() -> subprocess.Popen:
    """A `sleep` in a fresh network namespace; waits until it is really inside it."""
    holder = subprocess.Popen(['unshare', '--net', 'sleep', 'infinity'],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    own = _netns_of('self')
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline:
        if holder.poll() is not None:
            error = holder.stderr.read().decode(errors='replace').strip() if holder.stderr else ''
            raise NetnsError(f'unshare --net failed ({holder.returncode}): {error}')
        theirs = _netns_of(str(holder.pid))
        # unshare execs sleep after entering the namespace: wait for both.
        if theirs is not None and theirs != own and _comm(holder.pid) == 'sleep':
            return holder
        time.sleep(0.01)
    holder.kill()
    holder.wait(timeout=COMMAND_TIMEOUT)
    raise NetnsError(f'unshare --net did not start within {COMMAND_TIMEOUT} s')


def _netns_of(pid: str) -> Optional[str]:
    try:
        return os.readlink(f'/proc/{pid}/ns/net')
    except OSError:
        return None


def _comm(pid: int) -> str:
    try:
        with open(f'/proc/{pid}/comm') as comm:
            return comm.read().strip()
    except OSError:
        return ''
