"""The QoS contract of the pipeline's topics: one home for drivers, logger, replay and tests.

Installed into the generated `robot_interfaces` Python package (CMakeLists.txt), so
`from robot_interfaces.qos import record_qos` works wherever `robot_interfaces.msg` does.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# status, command_result, event: how many a driver keeps for a logger that joins late
RECORD_HISTORY_DEPTH = 1000
# odom, imu, wheel_speeds, battery: the driver keeps only the newest few (as sensor data)
TELEMETRY_DEPTH = 5


def record_qos(depth: int = RECORD_HISTORY_DEPTH) -> QoSProfile:
    """status, command_result, event: every record reaches the database.

    TRANSIENT_LOCAL: a logger that starts late or restarts gets what was published while
    it was away, as far back as depth. KEEP_LAST: a slow logger never blocks the driver.
    """
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def telemetry_qos(depth: int = TELEMETRY_DEPTH) -> QoSProfile:
    """odom, imu, wheel_speeds, battery: the newest sample matters, a late one is worth nothing.

    With the default depth this equals rclpy's qos_profile_sensor_data (the drivers' QoS);
    a subscriber may keep more (depth) to ride out a busy executor turn.
    """
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)
