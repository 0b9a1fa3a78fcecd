"""Fixtures of the node tests: an isolated ROS domain, the large-message Fast DDS profile, a tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def node_env(ros, ros_isolation, tmp_path, micro_config, monkeypatch):
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_large_messages.xml"))
    torch.manual_seed(0)
    model_path = tmp_path / "micro.safetensors"
    save_checkpoint(VDPM(micro_config), model_path)
    return {**os.environ}, model_path
