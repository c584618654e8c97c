from setuptools import find_packages, setup

package_name = 'robot_db_testing'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools', 'PyMySQL', 'psutil', 'pytest'],
    zip_safe=True,
    maintainer='robot-db team',
    maintainer_email='robot-db@lab.invalid',
    description='A private MariaDB server and pytest fixtures (databases, ROS processes, '
                'a test client node) for trying and testing the robot-db workspace.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'private_mariadb = robot_db_testing.private_mariadb:main',
        ],
    },
)
