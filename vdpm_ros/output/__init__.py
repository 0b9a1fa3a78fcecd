"""The ROS-free output layer: one window -> every message the node publishes, for rclpy or a rosbags typestore.

Modules: ``config`` (OutputConfig: topics, frames, flags; the channel table), ``types`` (message libraries),
``builders`` (numpy -> message, one function per message kind), ``window`` (window_messages, the one builder
the node and the output bag share).
"""

from .config import Channel, OutputConfig
from .types import MessageTypes, RclpyTypes, RosbagsTypes
from .window import OutboundMessage, window_messages

__all__ = ["Channel", "MessageTypes", "OutboundMessage", "OutputConfig", "RclpyTypes", "RosbagsTypes", "window_messages"]
