"""Full ROS 2 message definitions ('ros2msg' MCAP schemas), as rosbag2's MCAP storage
writes them: the type's .msg text, then each type it uses, depth first and once, after a
line of 80 '=' and 'MSG: <package>/<Type>'. Foxglove and the MCAP ROS 2 decoders read
the CDR of a message with nothing but this text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, List, Set

from ament_index_python.packages import get_package_share_directory

PRIMITIVES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16',
              'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring'}
# the type of each field line ("geometry_msgs/Pose" in "geometry_msgs/Pose[] poses")
_FIELD_TYPE = re.compile(r'(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+')
_SEPARATOR = '=' * 80


def _share_text(package: str, name: str) -> str:
    return (Path(get_package_share_directory(package)) / 'msg' / f'{name}.msg').read_text()


class MessageDefinitions:
    """Full definitions by type name ('nav_msgs/msg/Odometry'), each built once."""

    def __init__(self, read: Callable[[str, str], str] = _share_text) -> None:
        self._read = read
        self._texts: Dict[str, str] = {}

    def full_text(self, type_name: str) -> str:
        package, name = _split(type_name)
        seen: Set[str] = set()
        parts: List[str] = []
        self._append(package, name, seen, parts)
        return ''.join(parts)

    def _text(self, package: str, name: str) -> str:
        key = f'{package}/{name}'
        if key not in self._texts:
            self._texts[key] = self._read(package, name)
        return self._texts[key]

    def _append(self, package: str, name: str, seen: Set[str], parts: List[str]) -> None:
        text = self._text(package, name)
        parts.append(text)
        for dependency in sorted(dependencies(text, package)):
            if dependency not in seen:
                seen.add(dependency)
                parts.append(f'\n{_SEPARATOR}\nMSG: {dependency}\n')
                self._append(*_split(dependency), seen, parts)


def dependencies(text: str, package: str) -> Set[str]:
    """The non-primitive types a .msg text uses, as 'package/Type'."""
    found = set()
    for match in _FIELD_TYPE.finditer(text):
        field_type = match.group(1)
        base = field_type.split('<=')[0]
        if base in PRIMITIVES:
            continue
        found.add(field_type if '/' in field_type else f'{package}/{field_type}')
    return found


def _split(type_name: str):
    """('nav_msgs', 'Odometry') from 'nav_msgs/msg/Odometry' or 'nav_msgs/Odometry'."""
    parts = type_name.split('/')
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[1] != 'msg'):
        raise ValueError(f'{type_name!r} is not a message type name')
    return parts[0], parts[-1]
