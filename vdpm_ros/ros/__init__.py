"""The thin ROS 2 layer: parameters, message conversion, the node. Only this package imports rclpy."""
