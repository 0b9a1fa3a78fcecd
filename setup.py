"""vdpm_ros as a plain pip-installable Python package (venv, CI, the `vdpm` command).

On a ROS 2 install colcon builds this repository with CMakeLists.txt (ament_cmake: the rosidl interfaces
in msg/ plus these sources) and ignores this file; see docs/ros-build.md. In a pip venv without ROS,
scripts/setup_ros_venv.sh adds rclpy and the generated vdpm_ros.msg.
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
        # The interfaces' text, so that bags written without ROS carry the node's own message types.
        (f"share/{PACKAGE}/msg", glob("msg/*.msg")),
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
        "onnx>=1.16",
        "onnxscript>=0.5",
        "onnxruntime>=1.18",
        "scipy>=1.10",
        # optical flow (DIS) and robust pose (PnP-RANSAC) of the flow motion source
        "opencv-python-headless>=4.8",
        # report plots of vdpm eval / vdpm demo
        "matplotlib>=3.7",
    ],
    extras_require={"test": ["pytest>=7", "evo>=1.28", "hypothesis>=6.80", "ruff>=0.6"]},
    zip_safe=False,
    entry_points={"console_scripts": ["vdpm = vdpm_ros.cli.main:main"]},
)
