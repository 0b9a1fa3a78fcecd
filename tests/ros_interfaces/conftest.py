"""Tests of the ROS 2 interfaces (msg/) with real rclpy; the ``ros`` fixtures live in tests/conftest.py."""
