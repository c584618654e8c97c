"""A recorded session as an MCAP file in the ros2 profile, as `ros2 bag record -s mcap`
writes one: CDR messages (rclpy's own serializer), 'ros2msg' schemas with the full
definitions, each channel's offered QoS, log_time = publish_time = the header stamp.

Each channel's offered_qos_profiles is YAML with the QoS enums as numbers (rosbag2
metadata version 8, what Humble writes and reads). Newer rosbag2 reads numbers only when
a 'rosbag2' metadata record without serialized metadata says the file is that old, so
the file carries one (with ROS_DISTRO, as rosbag2 writes it).
"""

from __future__ import annotations

import os
from typing import BinaryIO, Dict, Optional

import yaml
from mcap.writer import CompressionType, Writer
from rclpy.qos import QoSProfile
from rclpy.serialization import serialize_message

from db_logger.msg_definitions import MessageDefinitions
from db_logger.session_messages import MessageFactory, stream_qos, type_name
from db_logger.session_samples import Row, SessionReader, STREAMS

LIBRARY = 'robot-db db_logger export'


def _duration(value) -> Dict[str, int]:
    nanoseconds = value.nanoseconds
    return {'sec': nanoseconds // 1_000_000_000, 'nsec': nanoseconds % 1_000_000_000}


def offered_qos_yaml(qos: QoSProfile) -> str:
    """One publisher's QoS as rosbag2 records it (version 8: enums as numbers)."""
    return yaml.safe_dump([{
        'history': qos.history.value, 'depth': qos.depth,
        'reliability': qos.reliability.value, 'durability': qos.durability.value,
        'deadline': _duration(qos.deadline), 'lifespan': _duration(qos.lifespan),
        'liveliness': qos.liveliness.value,
        'liveliness_lease_duration': _duration(qos.liveliness_lease_duration),
        'avoid_ros_namespace_conventions': qos.avoid_ros_namespace_conventions,
    }], sort_keys=False)


class McapSessionWriter:
    """Writes one robot's streams under namespace to an open binary file."""

    def __init__(self, out: BinaryIO, namespace: str, factory: MessageFactory,
                 definitions: Optional[MessageDefinitions] = None) -> None:
        self._writer = Writer(out, compression=CompressionType.ZSTD)
        self._writer.start(profile='ros2', library=LIBRARY)
        self._factory = factory
        self._definitions = definitions or MessageDefinitions()
        self._channels: Dict[str, int] = {}
        self.counts: Dict[str, int] = {}
        prefix = namespace.rstrip('/')
        for stream in STREAMS:
            schema = self._writer.register_schema(
                name=type_name(stream), encoding='ros2msg',
                data=self._definitions.full_text(type_name(stream)).encode())
            self._channels[stream] = self._writer.register_channel(
                topic=f'{prefix}/{stream}', message_encoding='cdr', schema_id=schema,
                metadata={'offered_qos_profiles': offered_qos_yaml(stream_qos(stream))})
            self.counts[stream] = 0

    def write(self, row: Row) -> None:
        self.counts[row.stream] += 1
        self._writer.add_message(self._channels[row.stream], log_time=row.stamp_ns,
                                 publish_time=row.stamp_ns, sequence=self.counts[row.stream],
                                 data=serialize_message(self._factory.build(row)))

    def finish(self) -> None:
        self._writer.add_metadata('rosbag2', {
            'serialized_metadata': '', 'ROS_DISTRO': os.environ.get('ROS_DISTRO', '')})
        self._writer.finish()


def export_session(reader: SessionReader, namespace: str, out: BinaryIO) -> Dict[str, int]:
    """Write the session (every stream, stamp order) to out; return the count per topic."""
    info = reader.info
    writer = McapSessionWriter(out, namespace, MessageFactory(info.serial, info.model_type))
    for row in reader.merged():
        writer.write(row)
    writer.finish()
    return writer.counts
