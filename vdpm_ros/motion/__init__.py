"""Motion from optical flow and the model's geometry (the ``flow`` motion source); ROS-free."""
