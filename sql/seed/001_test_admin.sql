-- The manual's test user (step 5.0). Seed data, not schema: apply with `migrate --seed`.
INSERT INTO Users (user_id, name, role) VALUES ('test_admin', '테스트관리자', 'Admin')
    ON DUPLICATE KEY UPDATE name = VALUES(name), role = VALUES(role);
