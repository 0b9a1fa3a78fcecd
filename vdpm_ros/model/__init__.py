"""V-DPM in PyTorch: architecture, typed config and outputs, checkpoint loading."""

from .config import (
    AggregatorConfig,
    CameraHeadConfig,
    DecoderConfig,
    PatchEmbedConfig,
    PointHeadConfig,
    VDPMConfig,
)
from .outputs import CameraPrediction, DynamicPointMaps, ForwardOutput, PointMaps, WindowState
from .vdpm import VDPM

__all__ = [
    "VDPM",
    "AggregatorConfig",
    "CameraHeadConfig",
    "CameraPrediction",
    "DecoderConfig",
    "DynamicPointMaps",
    "ForwardOutput",
    "PatchEmbedConfig",
    "PointHeadConfig",
    "PointMaps",
    "VDPMConfig",
    "WindowState",
]
