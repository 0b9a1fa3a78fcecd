"""The CMake/ament install that `colcon build` performs on a ROS 2 machine, and the node run from it.

colcon builds an ament_cmake package with plain `cmake`, `cmake --build` and `cmake --install` into
`install/vdpm_ros`; this test does the same with the ROS 2 packages of the venv as the underlay (what
`source /opt/ros/<distro>/setup.bash` gives on a robot). It then starts `lib/vdpm_ros/vdpm_node`, the
file `ros2 run` and launch_ros execute, with the install's Python path and ament index only, so the node
must find its sources, its messages and the embedded model where the install put them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ros_node_helpers import driver_node, spin_until, stop, wait_for_publisher, wait_for_subscriber

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


@pytest.fixture(scope="module")
def ament_install(tmp_path_factory) -> Path:
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("cmake and a C++ compiler are needed (apt-get install cmake g++)")
    work = tmp_path_factory.mktemp("ament")
    # The source tree must not contain the venv: CMake refuses exported include paths inside the source.
    src = work / "src" / "vdpm_ros"
    for rel in _tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    underlay = sys.prefix
    env = {**os.environ, "AMENT_PREFIX_PATH": underlay, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    build, install = work / "build", work / "install"
    steps = [
        ["cmake", "-S", str(src), "-B", str(build), "-DBUILD_TESTING=OFF", f"-DCMAKE_PREFIX_PATH={underlay}",
         f"-DCMAKE_INSTALL_PREFIX={install}", f"-DPython3_EXECUTABLE={sys.executable}"],
        ["cmake", "--build", str(build), "-j", "2"],
        ["cmake", "--install", str(build)],
    ]  # fmt: skip
    for cmd in steps:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return install


def test_install_puts_every_file_where_ros2_tools_look(ament_install, ros):
    install = ament_install
    node = install / "lib" / "vdpm_ros" / "vdpm_node"
    assert node.is_file() and os.access(node, os.X_OK)
    share = install / "share" / "vdpm_ros"
    for rel in (
        "package.xml",
        "launch/vdpm.launch.py",
        "config/vdpm.yaml",
        "config/fastdds_large_messages.xml",
        "models/vdpm_default.safetensors",
        "models/vdpm_default.md",
        "msg/SceneFlow.msg",
        "msg/Window.msg",
    ):
        assert (share / rel).is_file(), rel
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "vdpm_ros").is_file()
    package = install / PYTHON_DIR / "vdpm_ros"
    # our sources and the generated messages share one Python package
    assert (package / "ros" / "node.py").is_file() and (package / "msg" / "__init__.py").is_file()
    assert (REPO / "config" / "vdpm.yaml").read_text() == (share / "config" / "vdpm.yaml").read_text()
    # `ros2 run vdpm_ros vdpm ...`: the command line the docs use for synth, play and eval
    assert os.access(install / "lib" / "vdpm_ros" / "vdpm", os.X_OK)


def test_installed_vdpm_command_runs_from_the_install_alone(ament_install, tmp_path):
    install = ament_install
    env = {**os.environ, "PYTHONPATH": str(install / PYTHON_DIR), "AMENT_PREFIX_PATH": f"{install}:{sys.prefix}",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    run = subprocess.run([str(install / "lib" / "vdpm_ros" / "vdpm"), "synth", "--seed", "1000", "--frames", "2", "--size", "28", "42",
                          "--out", str(tmp_path / "bag")], env=env, cwd=install, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "bag" / "metadata.yaml").is_file()


def test_installed_node_runs_from_the_install_alone(ament_install, ros, ros_isolation, tmp_path):
    """`ros2 run vdpm_ros vdpm_node` with no model_path: the embedded model comes from share/vdpm_ros/models.

    It runs in a namespace, with its window size from a params file: the file's `/**` section must
    reach it there, and its (relative) output topics must move under the namespace.
    """
    from ros_node_helpers import ros_header as _header
    from sensor_msgs.msg import Image

    from vdpm_ros.messages.image import encode_image
    from vdpm_ros.msg import SceneFlow

    install = ament_install
    env = {
        **os.environ,
        "PYTHONPATH": str(install / PYTHON_DIR),  # ahead of the venv's editable install of the checkout
        "AMENT_PREFIX_PATH": f"{install}:{sys.prefix}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # the executable's python3
        "FASTDDS_DEFAULT_PROFILES_FILE": str(install / "share" / "vdpm_ros" / "config" / "fastdds_large_messages.xml"),
    }
    env.pop("VDPM_MODEL", None)
    where = subprocess.run([sys.executable, "-c", "import vdpm_ros, vdpm_ros.paths as p; print(vdpm_ros.__file__); print(p.default_model_path())"],
                           env=env, cwd=install, capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert where[0].startswith(str(install)) and where[1] == str(install / "share/vdpm_ros/models/vdpm_default.safetensors")

    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    window_size: 2\n    image_qos: reliable\n    queue_size: 10\n")
    cmd = [str(install / "lib" / "vdpm_ros" / "vdpm_node"), "--ros-args", "--params-file", str(params),
           "-r", "__ns:=/robot1", "-r", "image:=/installed/image_raw"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=install, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    received = []
    try:
        with driver_node("vdpm_install_driver") as (node, executor):
            from rclpy.qos import QoSProfile

            sub = node.create_subscription(SceneFlow, "/robot1/vdpm/scene_flow_stamped", received.append, QoSProfile(depth=10))
            pub = node.create_publisher(Image, "/installed/image_raw", QoSProfile(depth=10))
            assert wait_for_subscriber(executor, pub), stop(proc)
            assert wait_for_publisher(executor, sub, 30), stop(proc)
            rng = np.random.default_rng(0)
            for i in range(3):
                p = encode_image(rng.integers(0, 255, (84, 112, 3), dtype=np.uint8))
                msg = Image(header=_header(1_000_000_000 + i * 100_000_000, "cam"), height=p.height, width=p.width,
                            encoding=p.encoding, is_bigendian=0, step=p.step)  # fmt: skip
                msg.data = p.data
                pub.publish(msg)
            assert spin_until(executor, lambda: len(received) >= 2, 60), stop(proc)
    finally:
        log = stop(proc)
    assert "Traceback" not in log, log
    assert f"embedded default model {install}/share/vdpm_ros/models/vdpm_default.safetensors" in log, log
    assert [m.header.stamp.nanosec for m in received[:2]] == [100_000_000, 200_000_000]
