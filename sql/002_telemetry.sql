-- 002: telemetry, the manual's second kind of data (time series kept for replay).
-- One row per received sample. The primary key (robot_id, stamp) is the sample's identity:
-- a sample delivered twice is stored once (INSERT IGNORE), "one robot's samples in a time
-- range" is one primary-key range, and inserts append at the end of each robot's range, so
-- their cost does not grow with the table. "One session's samples in order" uses
-- (session_id, stamp). Values are SI units in REP 103 frames, single precision (FLOAT,
-- about 7 significant digits: 0.1 mm at 1 km).
-- Every statement may be re-run: a migration interrupted half-way can be applied again.

CREATE TABLE IF NOT EXISTS OdomSamples (
    robot_id INT NOT NULL,
    stamp DATETIME(6) NOT NULL COMMENT 'UTC, the message''s header stamp',
    session_id INT NULL COMMENT 'the robot''s session containing stamp, NULL when none',
    x FLOAT NOT NULL COMMENT 'm, odom frame',
    y FLOAT NOT NULL COMMENT 'm, odom frame, left of the start pose',
    yaw FLOAT NOT NULL COMMENT 'rad, counter-clockwise',
    vx FLOAT NOT NULL COMMENT 'm/s, body frame, forward',
    vy FLOAT NOT NULL COMMENT 'm/s, body frame, left',
    wz FLOAT NOT NULL COMMENT 'rad/s, counter-clockwise',
    PRIMARY KEY (robot_id, stamp),
    KEY ix_odomsamples_session (session_id, stamp),
    CONSTRAINT fk_odomsamples_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_odomsamples_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ImuSamples (
    robot_id INT NOT NULL,
    stamp DATETIME(6) NOT NULL COMMENT 'UTC, the message''s header stamp',
    session_id INT NULL COMMENT 'the robot''s session containing stamp, NULL when none',
    qx FLOAT NOT NULL COMMENT 'orientation, unit quaternion',
    qy FLOAT NOT NULL,
    qz FLOAT NOT NULL,
    qw FLOAT NOT NULL,
    gx FLOAT NOT NULL COMMENT 'angular velocity, rad/s',
    gy FLOAT NOT NULL,
    gz FLOAT NOT NULL,
    ax FLOAT NOT NULL COMMENT 'linear acceleration, m/s^2, gravity included',
    ay FLOAT NOT NULL,
    az FLOAT NOT NULL,
    PRIMARY KEY (robot_id, stamp),
    KEY ix_imusamples_session (session_id, stamp),
    CONSTRAINT fk_imusamples_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_imusamples_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS WheelSamples (
    robot_id INT NOT NULL,
    stamp DATETIME(6) NOT NULL COMMENT 'UTC, the message''s header stamp',
    session_id INT NULL COMMENT 'the robot''s session containing stamp, NULL when none',
    front_right_rpm FLOAT NOT NULL COMMENT 'rpm, positive when driving the robot forward',
    front_left_rpm FLOAT NOT NULL,
    rear_left_rpm FLOAT NOT NULL,
    rear_right_rpm FLOAT NOT NULL,
    PRIMARY KEY (robot_id, stamp),
    KEY ix_wheelsamples_session (session_id, stamp),
    CONSTRAINT fk_wheelsamples_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_wheelsamples_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS BatterySamples (
    robot_id INT NOT NULL,
    stamp DATETIME(6) NOT NULL COMMENT 'UTC, the message''s header stamp',
    session_id INT NULL COMMENT 'the robot''s session containing stamp, NULL when none',
    percent FLOAT NULL COMMENT '0-100 (BatteryState.percentage x 100), NULL when unknown',
    voltage FLOAT NULL COMMENT 'V, NULL when unknown (the EP SDK reports none)',
    PRIMARY KEY (robot_id, stamp),
    KEY ix_batterysamples_session (session_id, stamp),
    CONSTRAINT fk_batterysamples_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_batterysamples_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every RobotStatus received (Robots keeps only the newest): what replay republishes.
CREATE TABLE IF NOT EXISTS StatusSamples (
    robot_id INT NOT NULL,
    stamp DATETIME(6) NOT NULL COMMENT 'UTC, the message''s header stamp',
    session_id INT NULL COMMENT 'the robot''s session containing stamp, NULL when none',
    status VARCHAR(20) NOT NULL COMMENT 'RobotStatus.status',
    battery_percent FLOAT NULL COMMENT '0-100, NULL when unknown',
    ip_address VARCHAR(45) NULL,
    PRIMARY KEY (robot_id, stamp),
    KEY ix_statussamples_session (session_id, stamp),
    CONSTRAINT fk_statussamples_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_statussamples_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Loss on the wire, per session and stream: the sensor streams are best effort, so the
-- logger counts what arrived against what the stream's rate says should have. Rows in the
-- sample tables may be fewer than received (telemetry.max_rate keeps evenly spaced ones).
CREATE TABLE IF NOT EXISTS TelemetryCoverage (
    session_id INT NOT NULL,
    stream VARCHAR(20) NOT NULL COMMENT 'odom, imu, wheel_speeds, battery',
    robot_id INT NOT NULL,
    received INT UNSIGNED NOT NULL COMMENT 'samples that arrived, each counted once',
    expected INT UNSIGNED NOT NULL COMMENT 'samples the period fits from first_stamp to last_stamp',
    period_us INT UNSIGNED NULL COMMENT 'typical period: mean of recent stamp deltas without loss gaps; NULL until known',
    first_stamp DATETIME(6) NOT NULL COMMENT 'UTC, the first sample counted',
    last_stamp DATETIME(6) NOT NULL COMMENT 'UTC, the newest sample counted',
    PRIMARY KEY (session_id, stream),
    KEY ix_telemetrycoverage_robot (robot_id),
    CONSTRAINT fk_telemetrycoverage_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_telemetrycoverage_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO schema_migrations (version, name) VALUES (2, 'telemetry');
