-- 003: messages lost before the logger received them, per robot, stream and session.
-- The logger counts gaps in each publisher's DDS sequence numbers (publisher_losses.py):
-- what the KEEP_LAST histories dropped while the logger fell behind, or the wire lost.
-- One row per robot and stream per report (about once a second while losses occur).
-- Every statement may be re-run: a migration interrupted half-way can be applied again.

CREATE TABLE IF NOT EXISTS IntakeLosses (
    robot_id INT NOT NULL,
    stream VARCHAR(20) NOT NULL COMMENT 'the topic''s last name: status, command_result, event, odom, imu, wheel_speeds, battery',
    counted_at DATETIME(6) NOT NULL COMMENT 'UTC, logger clock: when the first of these gaps showed',
    session_id INT NULL COMMENT 'the robot''s session containing counted_at, NULL when none',
    lost INT UNSIGNED NOT NULL COMMENT 'messages the publisher sent that never reached the logger',
    PRIMARY KEY (robot_id, stream, counted_at),
    KEY ix_intakelosses_session (session_id),
    CONSTRAINT fk_intakelosses_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_intakelosses_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO schema_migrations (version, name) VALUES (3, 'intake losses');
