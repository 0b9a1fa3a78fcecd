"""vdpm_ros.msg MovingObject and MovingObjectArray: the documented fields, types and a CDR round trip."""

from __future__ import annotations

import numpy as np


def test_moving_object_has_the_documented_fields(ros):
    from vdpm_ros.msg import MovingObject

    assert MovingObject.get_fields_and_field_types() == {
        "id": "uint32",
        "observations": "uint32",
        "first_seen": "builtin_interfaces/Time",
        "centroid": "geometry_msgs/Point",
        "centroid_covariance": "double[9]",
        "velocity": "geometry_msgs/Vector3",
        "velocity_covariance": "double[9]",
        "motion_source_stamp": "builtin_interfaces/Time",
        "motion": "geometry_msgs/Transform",
        "motion_residual": "float",
        "box_center": "geometry_msgs/Pose",
        "box_size": "geometry_msgs/Vector3",
        "point_count": "uint32",
        "confidence": "float",
    }


def test_moving_object_array_has_the_documented_fields(ros):
    from vdpm_ros.msg import MovingObjectArray

    assert MovingObjectArray.get_fields_and_field_types() == {
        "header": "std_msgs/Header",
        "metric": "boolean",
        "objects": "sequence<vdpm_ros/MovingObject>",
    }


def test_moving_object_array_survives_serialization(ros):
    from rclpy.serialization import deserialize_message, serialize_message
    from ros_interface_samples import time_msg, time_ns

    from vdpm_ros.msg import MovingObject, MovingObjectArray

    known = MovingObject(id=7, observations=3, first_seen=time_msg(1_500_000_000), point_count=412, confidence=2.5)
    known.centroid.x, known.centroid.z = 0.5, 2.0
    known.centroid_covariance = np.diag([0.01, 0.02, 0.03]).ravel()
    known.velocity.x = 1.25
    known.velocity_covariance = (np.eye(3) * 0.04).ravel()
    known.motion_source_stamp = time_msg(1_600_000_000)
    known.motion.translation.x, known.motion.rotation.z, known.motion.rotation.w = 0.125, np.sin(0.05), np.cos(0.05)
    known.motion_residual = 0.003
    known.box_center.position.x, known.box_center.orientation.w = 0.5, 1.0
    known.box_size.x, known.box_size.y, known.box_size.z = 0.4, 0.3, 0.2
    unknown = MovingObject(id=8)
    unknown.centroid_covariance[0] = unknown.velocity_covariance[0] = -1.0  # the documented "unknown" flag
    msg = MovingObjectArray(metric=True, objects=[known, unknown])
    msg.header.frame_id, msg.header.stamp = "vdpm_odom", time_msg(2_000_000_000)

    back = deserialize_message(serialize_message(msg), MovingObjectArray)
    assert back.header.frame_id == "vdpm_odom" and time_ns(back.header.stamp) == 2_000_000_000 and back.metric
    a, b = back.objects
    assert (a.id, a.observations, a.point_count, time_ns(a.first_seen)) == (7, 3, 412, 1_500_000_000)
    assert (a.centroid.x, a.centroid.z, a.velocity.x) == (0.5, 2.0, 1.25)
    np.testing.assert_array_equal(np.asarray(a.centroid_covariance).reshape(3, 3), np.diag([0.01, 0.02, 0.03]))
    np.testing.assert_array_equal(np.asarray(a.velocity_covariance).reshape(3, 3), np.eye(3) * 0.04)
    assert time_ns(a.motion_source_stamp) == 1_600_000_000 and a.motion.translation.x == 0.125
    assert a.motion.rotation.w == np.cos(0.05) and abs(a.motion_residual - 0.003) < 1e-9
    assert (a.box_size.x, a.box_size.y, a.box_size.z) == (0.4, 0.3, 0.2) and a.box_center.orientation.w == 1.0
    assert a.confidence == 2.5
    assert b.id == 8 and b.centroid_covariance[0] == -1.0 and b.velocity_covariance[0] == -1.0
