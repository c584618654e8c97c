"""A session's pictures: its trajectory, and speed, battery and commands over time (PNG).

matplotlib's object API (Figure, no pyplot): no GUI backend and no global state, so it
draws the same on a headless lab server as anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from matplotlib.figure import Figure

from db_logger.session_samples import Row, SessionReader

TRAJECTORY_COLOUR = '#1f5fbf'   # the path line: a colour nothing else in the plot uses
RESULT_COLOURS = {'Success': '#2ca02c', 'Rejected': '#d62728', 'Failed': '#d62728',
                  'Canceled': '#ff7f0e'}
EVENT_STYLES = {'Collision': ('X', '#d62728'), 'Goal': ('*', '#9467bd')}
DPI = 100


@dataclass
class SessionSeries:
    """What the plots draw, read once from the database (times: s since session start)."""

    session_id: int
    serial: str
    start_ns: int
    odom: List[Row]
    battery: List[Row]
    status: List[Row]
    commands: List[Row]
    events: List[Row]

    @staticmethod
    def read(reader: SessionReader) -> 'SessionSeries':
        info = reader.info
        return SessionSeries(info.session_id, info.serial, info.start_ns,
                             reader.all_rows('odom'), reader.all_rows('battery'),
                             reader.all_rows('status'), reader.all_rows('command_result'),
                             reader.all_rows('event'))

    def seconds(self, rows: Sequence[Row]) -> List[float]:
        return [(row.stamp_ns - self.start_ns) / 1e9 for row in rows]

    def position_at(self, stamp_ns: int) -> Optional[Tuple[float, float]]:
        """(x, y) at stamp_ns, linear between the odometry samples around it."""
        if not self.odom:
            return None
        stamps = [row.stamp_ns for row in self.odom]
        after = next((i for i, s in enumerate(stamps) if s >= stamp_ns), len(stamps) - 1)
        if after == 0 or stamps[after] < stamp_ns:
            return tuple(self.odom[after].values[:2])
        (t0, (x0, y0)), (t1, (x1, y1)) = ((stamps[i], self.odom[i].values[:2])
                                          for i in (after - 1, after))
        share = (stamp_ns - t0) / (t1 - t0) if t1 > t0 else 1.0
        return x0 + share * (x1 - x0), y0 + share * (y1 - y0)

    def battery_percent(self) -> Tuple[List[float], List[float]]:
        """From the battery topic; from the status messages where it was not recorded."""
        rows = [r for r in self.battery if r.values[0] is not None]
        if not rows:
            rows = [Row(r.stream, r.stamp_ns, (r.values[1],)) for r in self.status
                    if r.values[1] is not None]
        return self.seconds(rows), [float(r.values[0]) for r in rows]


def trajectory_figure(series: SessionSeries) -> Figure:
    figure = Figure(figsize=(7, 7), dpi=DPI)
    axes = figure.add_subplot()
    axes.set_title(f'session {series.session_id}: {series.serial} trajectory (odom frame)')
    axes.set_xlabel('x [m]')
    axes.set_ylabel('y [m]')
    axes.grid(True, alpha=0.3)
    if not series.odom:
        axes.text(0.5, 0.5, 'no odometry recorded', ha='center', transform=axes.transAxes)
        return figure
    xs = [float(r.values[0]) for r in series.odom]
    ys = [float(r.values[1]) for r in series.odom]
    # the path above every marker, so its drawn extent is the data's (the test measures it)
    axes.plot(xs, ys, color=TRAJECTORY_COLOUR, linewidth=2, zorder=3, label='path')
    axes.plot(xs[0], ys[0], 'o', color='#2ca02c', markersize=12, zorder=2, label='start')
    axes.plot(xs[-1], ys[-1], 's', color='#7f7f7f', markersize=12, zorder=2, label='end')
    for event_type, (marker, colour) in EVENT_STYLES.items():
        points = [series.position_at(e.stamp_ns) for e in series.events
                  if e.values[1] == event_type]
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker, color=colour,
                      markersize=14, linestyle='none', zorder=2.5, label=event_type.lower())
    axes.set_aspect('equal', adjustable='datalim')
    axes.margins(0.15)
    axes.legend(loc='best')
    return figure


def timeline_figure(series: SessionSeries) -> Figure:
    figure = Figure(figsize=(10, 8), dpi=DPI)
    speed_axes, battery_axes, command_axes = figure.subplots(3, 1, sharex=True)
    figure.suptitle(f'session {series.session_id}: {series.serial}')
    speed = [math.hypot(r.values[3], r.values[4]) for r in series.odom]
    speed_axes.plot(series.seconds(series.odom), speed, color=TRAJECTORY_COLOUR)
    speed_axes.set_ylabel('speed [m/s]')
    times, percent = series.battery_percent()
    battery_axes.plot(times, percent, color='#2ca02c')
    battery_axes.set_ylabel('battery [%]')
    rows = _command_rows(series)
    for index, (label, points) in enumerate(rows.items()):
        for when, colour in points:
            command_axes.plot(when, index, 'o', color=colour, markersize=8)
    command_axes.set_yticks(range(len(rows)), list(rows))
    command_axes.set_ylim(-0.5, max(len(rows), 1) - 0.5)
    command_axes.set_xlabel('time since the session started [s]')
    for axes in (speed_axes, battery_axes, command_axes):
        axes.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure


def _command_rows(series: SessionSeries) -> Dict[str, List[Tuple[float, str]]]:
    """Label -> [(time, colour)]: one row per command type (colour: its result), one per
    event type."""
    rows: Dict[str, List[Tuple[float, str]]] = {}
    for when, row in zip(series.seconds(series.commands), series.commands):
        colour = RESULT_COLOURS.get(row.values[3], '#7f7f7f')
        rows.setdefault(row.values[1], []).append((when, colour))
    for when, row in zip(series.seconds(series.events), series.events):
        colour = EVENT_STYLES.get(row.values[1], ('', '#7f7f7f'))[1]
        rows.setdefault(f'event: {row.values[1]}', []).append((when, colour))
    return rows


def write_plots(series: SessionSeries, directory: Path) -> List[Path]:
    """session_<N>_trajectory.png and session_<N>_timeline.png in directory; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in (('trajectory', trajectory_figure(series)),
                         ('timeline', timeline_figure(series))):
        path = directory / f'session_{series.session_id}_{name}.png'
        figure.savefig(path, dpi=DPI)
        written.append(path)
    return written
