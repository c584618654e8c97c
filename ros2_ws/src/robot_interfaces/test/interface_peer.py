"""A peer process for the interface round-trip test: publish, subscribe or serve.

    python interface_peer.py pub    # publishes one of each message type, then waits
    python interface_peer.py sub    # prints each message received as one JSON line
    python interface_peer.py serve  # serves /session/start, echoing the request
"""

import json
import math
import sys

import rclpy
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus, WheelSpeeds
from robot_interfaces.qos import record_qos
from robot_interfaces.srv import StartSession

QOS = record_qos(10)
TEXT = '충돌 발생 🤖 "quoted"; DROP TABLE Robots; --'


def sample_messages():
    status = RobotStatus(robot_serial='3JKCK980030E3K', model_type='EP01',
                         status=RobotStatus.STATUS_ACTIVE, ip_address='192.0.2.7',
                         battery_percent=math.nan)
    status.header.stamp.sec, status.header.stamp.nanosec = 1768197748, 797025044
    result = CommandResult(robot_serial='3JKCK980030E3K',
                           command_id='6f1c1f4e-8a43-4b43-9d55-0d3c8b2a1e10',
                           command_type=CommandResult.TYPE_MOVE,
                           payload_json='{"x": 1.0, "xy_speed": 0.5}',
                           result=CommandResult.RESULT_SUCCESS, message=TEXT)
    event = RobotEvent(robot_serial='3JKCK980030E3K',
                       event_id='0b7f0e8e-6a51-4d0b-8f0c-3c2a9e1d2f33',
                       event_type=RobotEvent.TYPE_COLLISION, message=TEXT)
    wheels = WheelSpeeds(front_right_rpm=1.5, front_left_rpm=-2.5, rear_left_rpm=3.0,
                         rear_right_rpm=-4.0)
    return {'status': status, 'command_result': result, 'event': event,
            'wheel_speeds': wheels}


def as_dict(msg):
    out = {}
    for field in msg.get_fields_and_field_types():
        value = getattr(msg, field)
        if hasattr(value, 'get_fields_and_field_types'):
            value = as_dict(value)
        elif isinstance(value, float) and math.isnan(value):
            value = 'nan'
        out[field] = value
    return out


def main(mode):
    rclpy.init()
    node = rclpy.create_node(f'interface_peer_{mode}')
    try:
        if mode == 'pub':
            pubs = [(node.create_publisher(type(m), topic, QOS), m)
                    for topic, m in sample_messages().items()]
            for pub, msg in pubs:
                pub.publish(msg)
            print('published', flush=True)
            rclpy.spin(node)
        elif mode == 'sub':
            for topic, msg in sample_messages().items():
                node.create_subscription(
                    type(msg), topic,
                    lambda m, t=topic: print(json.dumps({'topic': t, 'msg': as_dict(m)},
                                                        ensure_ascii=False), flush=True), QOS)
            print('subscribed', flush=True)
            rclpy.spin(node)
        else:
            def on_start(request, response):
                response.success = True
                response.session_id = 42
                response.message = f'{request.user_id}|{request.robot_serial}|{request.note}'
                return response
            node.create_service(StartSession, '/session/start', on_start)
            print('serving', flush=True)
            rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == '__main__':
    main(sys.argv[1])
