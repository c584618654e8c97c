"""The README's SQL runs on the schema as written, and the design notes it cites are the
project's own (docs that cannot drift)."""

import re
import subprocess

from db_logger.migrate import split_statements
from tests.support import REPO_ROOT


def readme_sql_blocks(name: str):
    text = (REPO_ROOT / name).read_text(encoding='utf-8')
    return re.findall(r'```sql\n(.*?)```', text, flags=re.S)


def test_the_readmes_queries_run_on_the_schema(fresh_db):
    fresh_db.query("INSERT INTO Users (user_id, name) VALUES ('test_admin', 'T')")
    fresh_db.query("INSERT INTO Robots (serial, model_type) VALUES ('SN1', 'EP01')")
    fresh_db.query("INSERT INTO Sessions (session_id, user_id, robot_id) "
                   "VALUES (3, 'test_admin', 1)")
    fresh_db.query("INSERT INTO CommandLogs (msg_uuid, robot_id, session_id, command_type, "
                   "payload, result, stamp, received_at) VALUES ('c1', 1, 3, 'Move', '{}', "
                   "'Failed', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))")
    fresh_db.query("INSERT INTO EventLogs (msg_uuid, robot_id, session_id, event_type, message, "
                   "stamp, received_at) VALUES ('e1', 1, 3, 'Collision', 'hit', UTC_TIMESTAMP(3), "
                   "UTC_TIMESTAMP(3))")
    blocks = readme_sql_blocks('README.md')
    assert blocks, 'README.md has no ```sql block'
    statements = [s for block in blocks for s in split_statements(block)]
    results = [fresh_db.query(statement) for statement in statements]
    assert len(results) == 3
    session_log, robots, per_user = results
    assert [row[0] for row in session_log] == ['command', 'event']
    assert robots[0][0] == 'SN1' and robots[0][4] == 1   # one collision today
    assert per_user[0][1] == 3 and per_user[0][3] == 1   # one failed move


def test_the_korean_readme_keeps_the_same_sql():
    def without_comments(name):
        return [re.sub(r'^\s*--.*$', '', block, flags=re.M).split()
                for block in readme_sql_blocks(name)]
    assert without_comments('README.ko.md') == without_comments('README.md')


def test_the_design_notes_live_in_the_repository_and_are_what_is_cited():
    design = REPO_ROOT / 'docs' / 'design.md'
    assert design.is_file()
    for readme in ('README.md', 'README.ko.md'):
        assert '](docs/design.md)' in (REPO_ROOT / readme).read_text(encoding='utf-8'), readme
    tracked = subprocess.run(['git', 'ls-files'], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    # DESIGN.md is the team's shared brief, outside this repository: never cite it
    citing = [name for name in tracked if (REPO_ROOT / name).is_file()
              and name != 'tests/test_readme.py'
              and 'DESIGN.md' in (REPO_ROOT / name).read_text(errors='replace')]
    assert citing == []
