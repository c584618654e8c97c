# Creates the pipeline's two MySQL accounts, least privilege, from the passwords in
# docker/robot-db.env (none is written here):
#   robot_user      SELECT, INSERT, UPDATE, DELETE   db_logger and everyday queries
#   robot_migrator  ALL on the database              the migrate service (DDL)
# The mysql image runs this once, on an empty data directory. It is sourced, not
# executed (keep it non-executable): sourced scripts get the image's
# docker_process_sql, which talks to the server over its private socket as root.

robot_db_sql_string() {  # $1 as a quoted SQL string literal
    printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
}

if [ -z "${ROBOT_DB_PASSWORD:-}" ] || [ -z "${ROBOT_DB_MIGRATION_PASSWORD:-}" ]; then
    mysql_error "set ROBOT_DB_PASSWORD and ROBOT_DB_MIGRATION_PASSWORD in docker/robot-db.env"
fi
mysql_note "creating robot_user and robot_migrator for database ${MYSQL_DATABASE}"
docker_process_sql --database=mysql <<SQL
CREATE USER 'robot_user'@'%' IDENTIFIED BY $(robot_db_sql_string "$ROBOT_DB_PASSWORD");
GRANT SELECT, INSERT, UPDATE, DELETE ON \`${MYSQL_DATABASE}\`.* TO 'robot_user'@'%';
CREATE USER 'robot_migrator'@'%' IDENTIFIED BY $(robot_db_sql_string "$ROBOT_DB_MIGRATION_PASSWORD");
GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE}\`.* TO 'robot_migrator'@'%';
SQL
