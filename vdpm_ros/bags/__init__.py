"""rosbag2 reading and writing with the pure-Python ``rosbags`` library (no ROS install needed)."""
