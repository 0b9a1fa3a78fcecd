"""Prediction heads on top of the aggregator / decoder tokens."""

from .camera_head import POSE_ENCODING_DIM, CameraHead
from .dpt_head import DPTHead

__all__ = ["POSE_ENCODING_DIM", "CameraHead", "DPTHead"]
