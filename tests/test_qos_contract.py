"""Every node keeps the topics' QoS contract (robot_interfaces.qos).

Driver, logger and replay are checked on a live graph where DDS tells (reliability and
durability; it does not carry history or depth) and by their parameters (the depth).
"""

import yaml
from rcl_interfaces.srv import GetParameters

from robot_db_testing.ros_client import wait_until
from robot_interfaces.qos import RECORD_HISTORY_DEPTH, record_qos, telemetry_qos
from tests.support import REPO_ROOT
from tests.support.pipeline import params_file_for

RECORDS = ('status', 'command_result', 'event')
TELEMETRY = ('odom', 'imu', 'battery', 'wheel_speeds')


def test_replay_and_export_offer_the_drivers_qos():
    from db_logger.session_messages import stream_qos, TYPES
    assert set(TYPES) == set(RECORDS + TELEMETRY)
    for stream in RECORDS:
        assert stream_qos(stream) == record_qos()
        assert stream_qos(stream, 7) == record_qos(7)
    for stream in TELEMETRY:
        assert stream_qos(stream, 7) == telemetry_qos()


def test_every_history_depth_default_is_the_records_depth():
    from db_logger.settings import PARAMETERS
    from rm_driver.parameters import SPECS
    assert PARAMETERS['history_depth'][0] == RECORD_HISTORY_DEPTH
    assert [s.default for s in SPECS if s.name == 'history_depth'] == [RECORD_HISTORY_DEPTH]


def test_pipeline_yaml_leaves_history_depth_to_the_qos_module():
    # one home: drivers and logger both take RECORD_HISTORY_DEPTH, no "must match" copies
    params = yaml.safe_load((REPO_ROOT / 'config' / 'pipeline.yaml').read_text())
    assert [name for name, section in params.items()
            if 'history_depth' in section.get('ros__parameters', {})] == []


def history_depth_of(ros_client, node: str) -> int:
    response = ros_client.call(GetParameters, f'{node}/get_parameters',
                               GetParameters.Request(names=['history_depth']), timeout=10.0)
    return response.values[0].integer_value


def endpoint_qos(infos, node_name: str) -> list:
    """(reliability, durability) of each endpoint of node_name or of its helper nodes."""
    return [(i.qos_profile.reliability, i.qos_profile.durability) for i in infos
            if i.node_name.startswith(node_name)]


def test_driver_and_logger_keep_the_contract_on_a_live_graph(fresh_db, tmp_path, nodes,
                                                             ros_client):
    params = str(params_file_for(fresh_db, tmp_path))  # config/pipeline.yaml, test database
    driver = nodes('rm_driver', 'rm_driver', '--params-file', params, '-r', '__ns:=/ep01')
    logger = nodes('db_logger', 'db_logger', '--params-file', params, *fresh_db.logger_params())
    graph = ros_client.node
    expected = {**{s: record_qos() for s in RECORDS}, **{s: telemetry_qos() for s in TELEMETRY}}

    def matched() -> bool:
        return all(endpoint_qos(graph.get_publishers_info_by_topic(topic), 'rm_driver')
                   and endpoint_qos(graph.get_subscriptions_info_by_topic(topic), 'db_logger')
                   for topic in (f'/ep01/{stream}' for stream in expected))
    assert wait_until(matched, 30.0), driver.output() + logger.output()

    for stream, qos in expected.items():
        want = [(qos.reliability, qos.durability)]
        topic = f'/ep01/{stream}'
        assert endpoint_qos(graph.get_publishers_info_by_topic(topic), 'rm_driver') == want
        assert endpoint_qos(graph.get_subscriptions_info_by_topic(topic), 'db_logger') == want
    assert history_depth_of(ros_client, '/ep01/rm_driver') == RECORD_HISTORY_DEPTH
    assert history_depth_of(ros_client, '/db_logger') == RECORD_HISTORY_DEPTH
