"""Tests of the ROS 2 interfaces (msg/) with real rclpy.

They need rclpy and the generated ``vdpm_ros.msg``: run ``scripts/setup_ros_venv.sh`` in a pip venv, or
source a colcon install. Without them every test that asks for the ``ros`` fixture is skipped with the
reason; with ``VDPM_REQUIRE_ROS=1`` it fails instead (for CI jobs that ran the set-up script).
"""

from __future__ import annotations

import functools
import os
import uuid

import pytest

SETUP_HINT = "run scripts/setup_ros_venv.sh (pip venv) or source a colcon install of vdpm_ros"


def pytest_configure(config):
    # rosidl_parser's lark imports sre_parse (deprecated since Python 3.11): not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:module 'sre_:DeprecationWarning:lark")


def _unavailable(reason: str) -> None:
    if os.environ.get("VDPM_REQUIRE_ROS") == "1":
        pytest.fail(f"{reason} (VDPM_REQUIRE_ROS=1)")
    pytest.skip(reason)


@functools.lru_cache(maxsize=None)
def _probe(what: str) -> str | None:
    """None when ``what`` works, else why not. Cached: each import is tried once per session."""
    try:
        if what == "rclpy":
            import rclpy.serialization  # noqa: F401
        elif what == "vdpm_ros.msg":
            from vdpm_ros.msg import SceneFlow

            SceneFlow.__class__.__import_type_support__()  # the typesupport libraries load
        elif what == "tf2_msgs":
            from tf2_msgs.msg import TFMessage

            TFMessage.__class__.__import_type_support__()
    except Exception as exc:  # ImportError, or a typesupport library that does not load
        return f"{what} is not importable ({type(exc).__name__}: {exc}); {SETUP_HINT}"
    return None


@pytest.fixture(scope="session")
def ros() -> None:
    """Skips (or, with VDPM_REQUIRE_ROS=1, fails) unless rclpy and vdpm_ros.msg import."""
    for what in ("rclpy", "vdpm_ros.msg"):
        reason = _probe(what)
        if reason:
            _unavailable(reason)


@pytest.fixture(scope="session")
def tf2_msgs(ros) -> None:
    reason = _probe("tf2_msgs")
    if reason:
        _unavailable(reason)


@pytest.fixture
def ros_isolation(monkeypatch) -> dict[str, str]:
    """Environment for one test's ROS traffic: its own domain id, discovery on this machine only.

    The id comes from the process id (1-101, the ids whose ports Linux never hands out as ephemeral);
    topics carry a random token too, so a collision with a parallel run cannot cross messages.
    """
    env = {
        "ROS_DOMAIN_ID": str(1 + os.getpid() % 101),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "VDPM_TEST_TOPIC": f"/vdpm_test_{uuid.uuid4().hex[:12]}/scene_flow",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
