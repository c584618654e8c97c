"""session_report --plots: PNGs of a recorded session that show its data."""

import io
import subprocess

import numpy
import pytest
from matplotlib import colors
from matplotlib.image import imread

from db_logger.session_plots import (DPI, SessionSeries, TRAJECTORY_COLOUR,
                                     trajectory_figure)
from db_logger.session_samples import SessionReader
from recorded_session import db_args, record_session
from robot_db_testing.processes import executable, ros_env


@pytest.fixture(scope='module')
def recorded_session(mariadb, tmp_path_factory):
    """One session db_logger recorded from a sim driver, for every test here."""
    yield from record_session(mariadb, tmp_path_factory)


def pixels_of(image: numpy.ndarray, colour: str, tolerance: float = 0.02) -> numpy.ndarray:
    """(row, column) of every pixel of this colour."""
    want = numpy.array(colors.to_rgb(colour))
    return numpy.argwhere(numpy.all(numpy.abs(image[:, :, :3] - want) < tolerance, axis=2))


def test_report_writes_both_plots_and_lists_them(recorded_session, tmp_path):
    session = recorded_session
    result = subprocess.run([str(executable('db_logger', 'session_report')), '--session',
                             str(session.session_id), '--plots', str(tmp_path / 'plots'),
                             *db_args(session.db)], env=ros_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in ('trajectory', 'timeline'):
        path = tmp_path / 'plots' / f'session_{session.session_id}_{name}.png'
        assert f'plot: {path}' in result.stdout
        image = imread(path)
        assert image.shape[0] >= 500 and image.shape[1] >= 500
        # not a blank canvas: a good share of pixels is drawn (not the white background)
        drawn = numpy.any(image[:, :, :3] < 0.9, axis=2).mean()
        assert drawn > 0.02, (name, drawn)


def test_the_trajectory_line_spans_the_recorded_positions(recorded_session):
    conn = recorded_session.db.connect()
    try:
        series = SessionSeries.read(SessionReader.open(conn, recorded_session.session_id))
    finally:
        conn.close()
    xs = [row.values[0] for row in series.odom]
    ys = [row.values[1] for row in series.odom]
    assert max(xs) - min(xs) > 0.4  # the 0.5 m move is in the session
    assert {e.values[1] for e in series.events} >= {'Goal', 'Collision'}
    figure = trajectory_figure(series)
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=DPI)
    image = imread(io.BytesIO(buffer.getvalue()))
    axes = figure.axes[0]
    height = image.shape[0]
    legend = axes.get_legend().get_window_extent()
    line = numpy.array([(row, column) for row, column in pixels_of(image, TRAJECTORY_COLOUR)
                        if not legend.contains(column, height - row)])  # its sample line
    assert len(line) > 50
    # where the data's extent lands in the image (display y grows upwards, rows downwards)
    (left, bottom), (right, top) = axes.transData.transform([(min(xs), min(ys)),
                                                             (max(xs), max(ys))])
    slack = 4  # the line's half width and antialiasing, in pixels
    assert abs(line[:, 1].min() - left) <= slack and abs(line[:, 1].max() - right) <= slack
    assert line[:, 0].min() >= height - top - slack and line[:, 0].max() <= height - bottom + slack
    # the goal is marked where the robot was when it arrived: at the far end of the move
    goal = next(e for e in series.events if e.values[1] == 'Goal')
    assert series.position_at(goal.stamp_ns)[0] > max(xs) - 0.05
