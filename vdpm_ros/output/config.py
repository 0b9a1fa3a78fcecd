"""What the node publishes and where: topic names, frames and flags (:class:`OutputConfig`), and the channel table.

The node creates one publisher per :class:`Channel` and the output bag one connection per channel, from the
same table, so the two cannot disagree on names, types or which outputs exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import check_settings, setting


@dataclass(frozen=True)
class OutputConfig:
    """Output topics (relative names: a namespace applies to them), frames and what to publish."""

    points_topic: str = setting("vdpm/points", "PointCloud2 xyz rgb confidence of the latest frame")
    static_points_topic: str = setting(
        "vdpm/static_points",
        "PointCloud2: the points of vdpm/points outside the motion mask (same frame, stamp and fields), for costmaps and octomaps",
    )
    dynamic_points_topic: str = setting("vdpm/dynamic_points", "PointCloud2: the points of vdpm/points inside the motion mask")
    moving_objects_topic: str = setting(
        "vdpm/moving_objects",
        "vdpm_ros/MovingObjectArray: tracked moving objects (id, centroid, velocity, rigid motion, box), one message per window",
    )
    object_markers_topic: str = setting(
        "vdpm/moving_objects/markers",
        "visualization_msgs/MarkerArray of the moving objects (boxes, velocity arrows, ids) for RViz and Foxglove",
    )
    static_map_topic: str = setting(
        "vdpm/static_map",
        "PointCloud2 x y z rgb: static points accumulated in odom_frame, one per voxel; transient local, every static_map_period",
    )
    scene_flow_topic: str = setting("vdpm/scene_flow", "PointCloud2 x y z vx vy vz confidence dynamic")
    scene_flow_msg_topic: str = setting("vdpm/scene_flow_stamped", "vdpm_ros/SceneFlow with source and target stamps")
    motion_mask_topic: str = setting("vdpm/motion_mask", "mono8 Image on the output grid (output_resolution), 255 = moving")
    depth_topic: str = setting("vdpm/depth", "32FC1 Image on the output grid (output_resolution)")
    camera_pose_topic: str = setting("vdpm/camera_pose", "PoseStamped of the latest frame in odom_frame")
    odometry_topic: str = setting("vdpm/odometry", "Odometry of the latest frame")
    path_topic: str = setting("vdpm/path", "Path of the stitched trajectory (its last 10000 poses)")
    camera_info_topic: str = setting("vdpm/camera_info", "estimated intrinsics and size of the output grid")
    optical_flow_topic: str = setting("vdpm/optical_flow", "32FC2 Image: pixel displacement from the latest to the previous frame")
    window_topic: str = setting("vdpm/window", "vdpm_ros/Window (when publish_window)")
    odom_frame: str = setting(
        "vdpm_odom",
        "frame of poses, path, odometry and clouds: the first camera's optical frame (z forward, y down), so not named odom, which a robot's wheel odometry owns (REP 105)",
    )
    camera_frame: str = setting("", "camera optical frame (REP 103); empty = the image header's frame_id")
    odometry_variance: float = setting(
        1.0,
        "diagonal of the pose and twist covariances of /vdpm/odometry (units^2, rad^2): V-DPM gives no uncertainty, so this is a placeholder, large on purpose so that a fuser does not trust the estimate blindly",
        min=0.0,
    )
    publish_tf: bool = setting(
        True, "broadcast odom_frame -> camera_frame on /tf; turn off when the robot's TF tree already gives camera_frame a parent"
    )
    publish_window: bool = setting(False, "publish the full window message on window_topic")

    def __post_init__(self) -> None:
        check_settings(self)

    def channels(self) -> tuple[Channel, ...]:
        """Every output channel these settings enable, in publishing order."""
        out = [Channel(key, getattr(self, f"{key}_topic"), msgtype, **_QOS.get(key, {})) for key, msgtype in _WINDOW_CHANNELS]
        if self.publish_window:
            out.append(Channel("window", self.window_topic, "vdpm_ros/msg/Window", depth=2))
        if self.publish_tf:
            out.append(Channel("tf", "/tf", "tf2_msgs/msg/TFMessage", depth=100))
        return tuple(out)


@dataclass(frozen=True)
class Channel:
    """One output topic.

    Attributes:
        key: stable name of the output ("points", "tf", ...), whatever its topic is called.
        topic: the topic name (relative names resolve under the node's namespace).
        msgtype: "pkg/msg/Name".
        depth: QoS history depth (reliability: reliable).
        durability: "volatile" (only subscribers present get a message) or "transient_local" (the last
            ``depth`` messages are kept for late subscribers, as /tf_static and maps are published).
    """

    key: str
    topic: str
    msgtype: str
    depth: int = 5
    durability: str = "volatile"

    def __post_init__(self) -> None:
        if self.durability not in DURABILITIES:
            raise ValueError(f"Channel.durability must be one of {DURABILITIES}, got {self.durability!r}")

    @property
    def custom(self) -> bool:
        """A message of this package (vdpm_ros.msg), which exists only once the interfaces are built."""
        return self.msgtype.startswith("vdpm_ros/")


#: key -> message type of the outputs every window has a topic for (their topic is the ``<key>_topic`` setting).
_WINDOW_CHANNELS = (
    ("points", "sensor_msgs/msg/PointCloud2"),
    ("static_points", "sensor_msgs/msg/PointCloud2"),
    ("dynamic_points", "sensor_msgs/msg/PointCloud2"),
    ("scene_flow", "sensor_msgs/msg/PointCloud2"),
    ("scene_flow_msg", "vdpm_ros/msg/SceneFlow"),
    ("motion_mask", "sensor_msgs/msg/Image"),
    ("optical_flow", "sensor_msgs/msg/Image"),
    ("depth", "sensor_msgs/msg/Image"),
    ("camera_info", "sensor_msgs/msg/CameraInfo"),
    ("camera_pose", "geometry_msgs/msg/PoseStamped"),
    ("odometry", "nav_msgs/msg/Odometry"),
    ("path", "nav_msgs/msg/Path"),
    ("moving_objects", "vdpm_ros/msg/MovingObjectArray"),
    ("object_markers", "visualization_msgs/msg/MarkerArray"),
    ("static_map", "sensor_msgs/msg/PointCloud2"),
)
#: QoS of the channels that differ from the default (depth 5, volatile): the map is kept for late subscribers.
_QOS: dict[str, dict] = {"static_map": {"depth": 1, "durability": "transient_local"}}
#: Channel durabilities (rclpy's short keys of DurabilityPolicy).
DURABILITIES = ("volatile", "transient_local")
