"""Where installed data lives: the embedded default model and the reference data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "vdpm_default.safetensors"
_PACKAGE = Path(__file__).resolve().parent


def _share_dir() -> Path | None:
    """share/vdpm_ros of a colcon / ROS install, when the ament index is importable."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory("vdpm_ros"))
    except (PackageNotFoundError, OSError):  # OSError: ament_index without a sourced workspace (AMENT_PREFIX_PATH unset)
        return None


def default_model_path() -> Path | None:
    """The embedded default model: ``$VDPM_MODEL``, the checkout's models/, or share/vdpm_ros/models/."""
    candidates = []
    if os.environ.get("VDPM_MODEL"):
        candidates.append(Path(os.environ["VDPM_MODEL"]))
    candidates.append(_PACKAGE.parent / "models" / DEFAULT_MODEL_NAME)
    share = _share_dir()
    if share is not None:
        candidates.append(share / "models" / DEFAULT_MODEL_NAME)
    return next((p for p in candidates if p.is_file()), None)


def interface_dir() -> Path | None:
    """The package's .msg files (SceneFlow, Window, ...): the checkout's msg/, or share/vdpm_ros/msg of an install.

    The output bag registers them with rosbags, so bags carry the node's own message types without ROS.
    """
    candidates = [_PACKAGE.parent / "msg", Path(sys.prefix) / "share" / "vdpm_ros" / "msg"]
    share = _share_dir()
    if share is not None:
        candidates.append(share / "msg")
    return next((p for p in candidates if p.is_dir() and any(p.glob("*.msg"))), None)


def default_model_caveat(path: Path) -> str:
    """One line for the logs when the embedded default model is used instead of weights the user chose."""
    card = path.with_suffix(".md")
    where = str(card) if card.is_file() else "its model card in models/"
    return (
        f"no model_path given: using the embedded default model {path}, a small model trained by vdpm_ros on "
        f"synthetic scenes; read {where} for what it can and cannot do, and set model_path to the official "
        "V-DPM weights for real cameras"
    )
