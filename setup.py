"""vdpm_ros: an ament_python package that is also a plain pip-installable Python package.

colcon (on a ROS 2 install) reads setup.cfg and puts the executables under lib/vdpm_ros, where
``ros2 run`` / ``ros2 launch`` look; pip puts the same console scripts in the venv's bin/.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "vdpm_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="V-DPM 4D perception for ROS 2: point clouds, scene flow, motion masks and camera poses",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/models", glob("models/*.safetensors") + glob("models/*.md")),
    ],
    install_requires=[
        "numpy>=1.24",
        # The CPU wheel on the project machines; on a CUDA robot install the matching CUDA build of 2.13.0.
        "torch==2.13.0",
        "safetensors>=0.4",
        "pillow>=10",
        "tqdm>=4.60",
        "rosbags>=0.10",
        "pyyaml>=6",
    ],
    extras_require={"test": ["pytest>=7"]},
    zip_safe=False,
    entry_points={"console_scripts": ["vdpm = vdpm_ros.cli.main:main"]},
)
