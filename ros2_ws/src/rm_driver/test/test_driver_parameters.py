"""Parameter validation (plain Python) and declaration on an in-process node."""

import pytest

from rm_driver.parameters import SPECS, ParameterError, validate


def test_every_default_passes_its_own_check():
    for spec in SPECS:
        assert validate(spec.name, spec.default) is None, spec.name


@pytest.mark.parametrize('name, value, mentions', [
    ('backend', 'gazebo', 'sim, sdk'),
    ('conn_type', 'wifi', 'sta, ap, rndis'),
    ('robot_serial', 'has space', 'letters, digits'),
    ('model_type', '', 'letters, digits'),
    ('odom_rate', 7, '1, 5, 10, 20, 50'),
    ('imu_rate', 100, '1, 5, 10, 20, 50'),
    ('wheel_speeds_rate', 0, '1, 5, 10, 20, 50'),
    ('cmd_vel_timeout', 0.0, '[0.05, 10] s'),
    ('battery_low_threshold', 120.0, '[0, 100] %'),
    ('odom_frame', '/odom', 'frame id'),
    ('sim.battery_drain_rate', -1.0, '[0, 100] %/s'),
])
def test_bad_values_are_refused_naming_the_parameter_and_the_allowed_values(
        name, value, mentions):
    reason = validate(name, value)
    assert reason is not None
    assert reason.startswith(f'{name} = {value!r}')
    assert mentions in reason


@pytest.mark.parametrize('name, value, kind', [
    ('odom_rate', 'fast', 'an integer'),
    ('odom_rate', 20.0, 'an integer'),
    ('odom_rate', True, 'an integer'),
    ('cmd_vel_timeout', 1, 'a floating-point number'),
    ('model_type', 5, 'a string'),
])
def test_a_value_of_another_type_is_refused_naming_the_parameter_and_the_type(
        name, value, kind):
    assert validate(name, value).startswith(f'{name} must be {kind}')


def test_declaration_refuses_bad_start_values_and_runtime_changes():
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rm_driver.parameters import declare_parameters

    context = Context()
    rclpy.init(context=context)
    try:
        bad = Node('bad_params', context=context, start_parameter_services=False,
                   parameter_overrides=[Parameter('imu_rate', value=30)])
        with pytest.raises(ParameterError, match=r'^imu_rate = 30: .*1, 5, 10, 20, 50'):
            declare_parameters(bad, lambda params: None)
        bad.destroy_node()
        bad = Node('bad_type', context=context, start_parameter_services=False,
                   parameter_overrides=[Parameter('odom_rate', value='fast')])
        with pytest.raises(ParameterError, match=r'^odom_rate must be an integer'):
            declare_parameters(bad, lambda params: None)
        bad.destroy_node()

        changes = []
        node = Node('good_params', context=context, start_parameter_services=False,
                    parameter_overrides=[Parameter('odom_rate', value=50)])
        params = declare_parameters(node, changes.append)
        assert params.rates.odom == 50 and params['backend'] == 'sim'
        refused = node.set_parameters([Parameter('battery_low_threshold', value=150.0)])[0]
        assert not refused.successful and 'battery_low_threshold' in refused.reason
        refused = node.set_parameters([Parameter('odom_rate', value=25)])[0]
        assert not refused.successful and '1, 5, 10, 20, 50' in refused.reason
        refused = node.set_parameters([Parameter('odom_rate', value='fast')])[0]
        assert not refused.successful and 'odom_rate must be an integer' in refused.reason
        assert node.get_parameter('odom_rate').value == 50
        # what `ros2 param describe` shows is still the declared type after the refusal
        assert node.describe_parameter('odom_rate').type == Parameter.Type.INTEGER.value
        read_only = node.set_parameters([Parameter('backend', value='sdk')])[0]
        assert not read_only.successful and 'backend' in read_only.reason
        assert not changes
        assert node.set_parameters([Parameter('imu_rate', value=5)])[0].successful
        assert [p.name for p in changes[0]] == ['imu_rate']
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
