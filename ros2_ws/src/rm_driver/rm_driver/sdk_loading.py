"""Importing the robomaster SDK in the SDK process (sdk_worker.py), with a one-line fix
when it cannot be imported."""

from __future__ import annotations

import sys
from typing import Any, Callable


class SdkMissing(RuntimeError):
    """The robomaster package cannot be imported; str() is the one-line fix."""


def install_hint() -> str:
    """One line: how to give the sdk backend a Python with the SDK (README, "SDK backend")."""
    version = f'{sys.version_info.major}.{sys.version_info.minor}'
    if (3, 6) <= sys.version_info[:2] <= (3, 8):
        return (f"backend 'sdk' needs the robomaster SDK: install it for this Python "
                f"with `{sys.executable} -m pip install robomaster==0.1.1.68`")
    return (f"backend 'sdk' needs a Python 3.6-3.8 with the robomaster SDK (its only wheels), "
            f"and {sys.executable} is {version}: make one (`python3.8 -m venv ~/robomaster-sdk "
            f"&& ~/robomaster-sdk/bin/pip install robomaster==0.1.1.68`) and point sdk.python "
            f"or RM_SDK_PYTHON at its bin/python (the robot Docker image has it), "
            f"or use backend:=sim")


def load_robot_factory() -> Callable[[], Any]:
    """Import the SDK now (never at module import) and return robomaster.robot.Robot."""
    try:
        from robomaster import robot  # noqa: WPS433 - lazy on purpose
    except ImportError as error:
        raise SdkMissing(install_hint()) from error
    return robot.Robot
