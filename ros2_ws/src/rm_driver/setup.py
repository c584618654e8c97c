from setuptools import find_packages, setup

package_name = 'rm_driver'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='robot-db team',
    maintainer_email='robot-db@lab.invalid',
    description='ROS 2 driver for the DJI RoboMaster EP (robomaster SDK or simulator).',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'rm_driver = rm_driver.driver_node:main',
            'scenario = rm_driver.scenario:main',
        ],
    },
)
