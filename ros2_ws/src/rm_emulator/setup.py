from setuptools import find_packages, setup

package_name = 'rm_emulator'

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
    description='An emulated RoboMaster EP speaking the robomaster SDK wire protocol.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'ep_emulator = rm_emulator.cli:main',
        ],
    },
)
