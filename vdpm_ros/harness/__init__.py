"""Tools that drive the layers below them: live bag evaluation into a running node, benchmarks, the
reference-fixture conformance run, the model card and the prepared GPU check. They sit above the ROS-free
core and the ROS layer (tests/test_architecture.py), never inside either."""
