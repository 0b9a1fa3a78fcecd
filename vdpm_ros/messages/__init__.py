"""ROS message payloads as numpy (no rclpy needed): point-cloud packing and image buffers.

The ROS node, the bag tools and the tests all use these, so there is one packer and one unpacker.
"""
