"""Importing the robomaster SDK, only when the sdk backend is chosen, with a one-line fix
when it cannot be imported."""

from __future__ import annotations

import sys
from typing import Any, Callable


class SdkMissing(RuntimeError):
    """The robomaster package cannot be imported; str() is the one-line fix."""


def install_hint() -> str:
    """One line: how to get the SDK for this Python (docker/README.md tells the whole route)."""
    version = f'{sys.version_info.major}.{sys.version_info.minor}'
    if (3, 6) <= sys.version_info[:2] <= (3, 8):
        return (f"backend 'sdk' needs the robomaster SDK: install it for this Python "
                f"with `{sys.executable} -m pip install robomaster`")
    return (f"backend 'sdk' needs the robomaster SDK, which this Python {version} cannot "
            f"import (`pip install robomaster` has wheels for CPython 3.6-3.8 only): run the "
            f"driver from the project's `robot` Docker image, which installs the SDK for "
            f"its ROS 2 Python (docker/README.md, 'The RoboMaster SDK on the image's "
            f"Python'), or use backend:=sim")


def load_robot_factory() -> Callable[[], Any]:
    """Import the SDK now (never at module import) and return robomaster.robot.Robot."""
    try:
        from robomaster import robot  # noqa: WPS433 - lazy on purpose
    except ImportError as error:
        raise SdkMissing(install_hint()) from error
    return robot.Robot
