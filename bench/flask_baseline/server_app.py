#!/usr/bin/env python3
"""Baseline (b): a copy of the manual's Flask server (section 3, server_app.py).

Only the /robot/log endpoint the benchmark drives, kept as the manual wrote it: a
new PyMySQL connection per request (get_db), one INSERT, commit, close, a print per
request, Flask's own server (app.run, threaded by default).

What differs from the manual, and why:
- credentials: from the environment (ROBOT_DB_HOST, ROBOT_DB_PORT, ROBOT_DB_NAME,
  ROBOT_DB_USER, ROBOT_DB_PASSWORD or ROBOT_DB_PASSWORD_FILE), never written here;
- binds 127.0.0.1 (the manual: 0.0.0.0) on the port given with --port;
- --ssl-disabled adds ssl_disabled=True to DB_CONFIG (the "SSL off" variant); without
  it PyMySQL negotiates as pip installs it today;
- the INSERT is adapted minimally to our schema's NOT NULL columns: the manual wrote
  `INSERT INTO CommandLogs (session_id, command_type, payload) VALUES (1, %s, %s)`
  (a hard-coded session 1); our CommandLogs has a nullable session_id but needs
  robot_id (hard-coded here too: --robot-id, the row the benchmark registered),
  msg_uuid (the request's command_id), stamp (the request's stamp, epoch seconds;
  the server's time when absent) and received_at (UTC_TIMESTAMP(3): when the server
  handled it). The manual's payload {"result": ...} is kept, and the result column
  is filled from the same request field.
- /robot/status is not copied (the benchmark does not drive it; it keyed robots by
  `description`, which our schema replaced with `serial`).
"""

import argparse
import datetime
import json
import os

import pymysql
from flask import Flask, jsonify, request

app = Flask(__name__)


def _password():
    if os.environ.get('ROBOT_DB_PASSWORD'):
        return os.environ['ROBOT_DB_PASSWORD']
    with open(os.environ['ROBOT_DB_PASSWORD_FILE']) as f:
        return f.read().strip()


# [설정] DB 포트 확인  (credentials from the environment, see the docstring)
DB_CONFIG = {
    'host': os.environ.get('ROBOT_DB_HOST', '127.0.0.1'),
    'port': int(os.environ.get('ROBOT_DB_PORT', '7858')),
    'user': os.environ.get('ROBOT_DB_USER', 'robot_user'),
    'password': None,   # filled in main()
    'db': os.environ.get('ROBOT_DB_NAME', 'robot_capstone'),
    'charset': 'utf8mb4',
    'cursorclass': pymysql.cursors.DictCursor
}
ROBOT_ID = 1


def get_db():
    return pymysql.connect(**DB_CONFIG)


def _stamp(data):
    """The request's stamp (epoch s) as a UTC DATETIME(3) literal (adaptation)."""
    t = data.get('stamp')
    when = (datetime.datetime.fromtimestamp(float(t), datetime.timezone.utc) if t is not None
            else datetime.datetime.now(datetime.timezone.utc))
    return when.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]


# 2. 로그 저장
@app.route('/robot/log', methods=['POST'])
def save_log():
    try:
        data = request.json
        cmd_type = data.get('command_type')
        result = data.get('result')

        conn = get_db()
        cursor = conn.cursor()

        # [수정됨] JSON 형식으로 변환해서 저장
        # {"result": "Success"} 형태로 예쁘게 저장됩니다.
        json_payload = json.dumps({"result": result}, ensure_ascii=False)

        # adapted to our schema (see the docstring): robot_id, msg_uuid, stamp, received_at
        sql = ("INSERT INTO CommandLogs (msg_uuid, robot_id, command_type, payload, result, stamp,"
               " received_at) VALUES (%s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(3))")
        cursor.execute(sql, (data.get('command_id'), ROBOT_ID, cmd_type, json_payload,
                             result, _stamp(data)))

        conn.commit()
        conn.close()
        print(f"📝 로그 저장 완료: {cmd_type} - {result}")
        return jsonify({"msg": "Log Saved"}), 200
    except Exception as e:
        print(f"❌ 로그 저장 에러 (세션 1번 있나요?): {e}")
        return jsonify({"error": str(e)}), 500


def main():
    global ROBOT_ID
    ap = argparse.ArgumentParser(description='copy of the manual\'s Flask /robot/log server')
    ap.add_argument('--port', type=int, default=5000)
    ap.add_argument('--robot-id', type=int, required=True)
    ap.add_argument('--ssl-disabled', action='store_true',
                    help='pass ssl_disabled=True to pymysql.connect (SSL negotiation off)')
    args = ap.parse_args()
    ROBOT_ID = args.robot_id
    DB_CONFIG['password'] = _password()
    if args.ssl_disabled:
        DB_CONFIG['ssl_disabled'] = True
    print(f'pymysql {pymysql.VERSION if hasattr(pymysql, "VERSION") else "?"}, '
          f'ssl_disabled={args.ssl_disabled}', flush=True)
    app.run(host='127.0.0.1', port=args.port)


if __name__ == '__main__':
    main()
