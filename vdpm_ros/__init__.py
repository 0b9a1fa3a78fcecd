"""vdpm_ros: V-DPM 4D perception (point maps, scene flow, motion masks, camera poses) for ROS 2.

The subpackages ``model``, ``geometry`` and ``preprocessing`` need neither ROS nor a GPU.
"""

__version__ = "0.1.0"
