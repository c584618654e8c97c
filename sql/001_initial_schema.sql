-- 001: the manual's five tables (same names and columns) plus what real use needs:
-- Robots.serial UNIQUE, robot_id and a nullable session_id on the log tables, a
-- UNIQUE msg_uuid (message ids make every write idempotent), the message's own
-- stamp and receive time beside created_at, millisecond UTC times, indexes for the usual queries.
-- Every statement may be re-run: a migration interrupted half-way can be applied again.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS Users (
    user_id VARCHAR(50) PRIMARY KEY COMMENT 'login id, e.g. student2026',
    name VARCHAR(50) NOT NULL COMMENT 'display name',
    role VARCHAR(20) NOT NULL DEFAULT 'Student' COMMENT 'Admin/Student',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) COMMENT 'UTC'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS Robots (
    robot_id INT AUTO_INCREMENT PRIMARY KEY,
    serial VARCHAR(64) NOT NULL COMMENT 'the robot serial number (RobotStatus.robot_serial)',
    model_type VARCHAR(20) NOT NULL COMMENT 'EP01 / GO1',
    ip_address VARCHAR(45) NULL COMMENT 'IPv4 or IPv6',
    status VARCHAR(20) NOT NULL DEFAULT 'Idle' COMMENT 'Active/Idle/Charging/Disconnected/Error',
    description VARCHAR(100) NULL COMMENT 'nickname, free text',
    battery_percent FLOAT NULL COMMENT '0-100, NULL when unknown',
    status_stamp DATETIME(3) NULL COMMENT 'UTC stamp of the status message this row shows',
    last_seen DATETIME(3) NULL COMMENT 'UTC, when the logger last received a status',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) COMMENT 'UTC',
    UNIQUE KEY uq_robots_serial (serial)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS Sessions (
    session_id INT AUTO_INCREMENT PRIMARY KEY,
    user_id VARCHAR(50) NOT NULL,
    robot_id INT NOT NULL,
    start_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) COMMENT 'UTC',
    end_time DATETIME(3) NULL COMMENT 'UTC, NULL while open',
    note VARCHAR(255) NULL,
    -- robot_id while the session is open, NULL once ended: UNIQUE makes "at most one
    -- open session per robot" a database rule, not only the logger's.
    open_robot_id INT AS (IF(end_time IS NULL, robot_id, NULL)) STORED,
    UNIQUE KEY uq_sessions_open_robot (open_robot_id),
    KEY ix_sessions_robot_time (robot_id, start_time),
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES Users (user_id) ON DELETE CASCADE,
    CONSTRAINT fk_sessions_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS EventLogs (
    log_id BIGINT AUTO_INCREMENT PRIMARY KEY,
    msg_uuid VARCHAR(64) NOT NULL COMMENT 'RobotEvent.event_id',
    robot_id INT NOT NULL,
    session_id INT NULL COMMENT 'the robot''s session containing stamp, NULL when none',
    event_type VARCHAR(50) NOT NULL COMMENT 'Collision/Goal/Error/BatteryLow/ConnectionLost/...',
    message TEXT,
    stamp DATETIME(3) NOT NULL COMMENT 'UTC, the message''s own stamp',
    received_at DATETIME(3) NOT NULL COMMENT 'UTC, when the logger received the message',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) COMMENT 'UTC, when the row was written',
    UNIQUE KEY uq_eventlogs_msg_uuid (msg_uuid),
    KEY ix_eventlogs_session (session_id, stamp),
    KEY ix_eventlogs_robot_time (robot_id, stamp),
    CONSTRAINT fk_eventlogs_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_eventlogs_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS CommandLogs (
    command_id BIGINT AUTO_INCREMENT PRIMARY KEY,
    msg_uuid VARCHAR(64) NOT NULL COMMENT 'CommandResult.command_id',
    robot_id INT NOT NULL,
    session_id INT NULL COMMENT 'the robot''s session containing stamp, NULL when none',
    command_type VARCHAR(50) NOT NULL COMMENT 'Velocity/Move/ModeChange/...',
    payload JSON COMMENT 'the command (CommandResult.payload_json); {"raw": ...} when that was not JSON',
    result VARCHAR(20) NOT NULL COMMENT 'Success/Failed/Rejected/Canceled',
    message TEXT,
    stamp DATETIME(3) NOT NULL COMMENT 'UTC, the message''s own stamp',
    received_at DATETIME(3) NOT NULL COMMENT 'UTC, when the logger received the message',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) COMMENT 'UTC, when the row was written',
    UNIQUE KEY uq_commandlogs_msg_uuid (msg_uuid),
    KEY ix_commandlogs_session (session_id, stamp),
    KEY ix_commandlogs_robot_time (robot_id, stamp),
    CONSTRAINT fk_commandlogs_robot FOREIGN KEY (robot_id) REFERENCES Robots (robot_id) ON DELETE CASCADE,
    CONSTRAINT fk_commandlogs_session FOREIGN KEY (session_id) REFERENCES Sessions (session_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO schema_migrations (version, name) VALUES (1, 'initial schema');
