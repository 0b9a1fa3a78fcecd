"""Motion from optical flow and the model's geometry: the ``flow`` motion source (ROS-free).

:func:`flow_dynamic_maps` returns the decoder's :class:`~vdpm_ros.model.outputs.DynamicPointMaps` for a
window's latest frame, computed from OpenCV DIS optical flow, the camera motion it implies and the
model's own-time map of the latest frame; see docs/motion.md.
"""

from .config import FlowMotionConfig
from .flow_source import FlowMotion, flow_dynamic_maps, flow_motion, required_frames
from .window_flow import LinkCache

__all__ = ["FlowMotion", "FlowMotionConfig", "LinkCache", "flow_dynamic_maps", "flow_motion", "required_frames"]
