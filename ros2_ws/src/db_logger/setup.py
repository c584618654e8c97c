from glob import glob

from setuptools import find_packages, setup

package_name = 'db_logger'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        # the repo's sql/ (linked here) so `migrate` finds the schema once installed
        ('share/' + package_name + '/sql', sorted(glob('sql/*.sql'))),
        ('share/' + package_name + '/sql/seed', sorted(glob('sql/seed/*.sql'))),
    ],
    install_requires=['setuptools', 'PyMySQL'],
    zip_safe=True,
    maintainer='robot-db team',
    maintainer_email='robot-db@lab.invalid',
    description='In-graph MySQL writer for robot status, commands, events and sessions.',
    license='Apache-2.0',
    extras_require={'test': ['pytest', 'mcap-ros2-support', 'rosbags']},
    entry_points={
        'console_scripts': [
            'db_logger = db_logger.logger_node:main',
            'migrate = db_logger.migrate:main',
            'session_report = db_logger.session_report:main',
            'replay = db_logger.replay:main',
            'export = db_logger.export:main',
        ],
    },
)
