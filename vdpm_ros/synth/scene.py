"""Random scene description: room, camera path, objects with motions and textures, light.

Everything here is sampled once per seed; rendering (``render.py``) only evaluates it.
Room coordinates: origin at the room centre, z up, metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera_path import CameraTrajectory, sample_camera_trajectory, sample_intrinsics
from .config import SceneConfig
from .motion import AffineDeformation, DeformingMotion, Motion, RigidMotion
from .primitives import Box, Cylinder, Ellipsoid, RoomBox, Shape, Sphere
from .textures import Texture, sample_texture
from .transforms import axis_angle_to_matrix, random_rotation, random_unit_vector

SHAPE_KINDS: tuple[str, ...] = ("sphere", "ellipsoid", "box", "cylinder")

# Minimum gap between an object's bounding sphere and the camera centre (metres), so no
# camera ever sits inside (or grazes) an object.
_CAMERA_CLEARANCE = 0.3
_PLACEMENT_ATTEMPTS = 40


@dataclass(frozen=True, eq=False)
class SceneObject:
    """A foreground object.

    Attributes:
        object_id: id written to ``object_ids`` (1-based).
        shape: canonical primitive (local coordinates, metres).
        motion: local -> room affine map as a function of time.
        texture: albedo in local coordinates.
        is_static: True if the surface never moves (identical map at all frame times).
        is_deforming: True if the map has a non-rigid (affine) part.
        linear: [S, 3, 3] linear part of the local -> room map at each frame time.
        offset: [S, 3] translation part (metres) at each frame time.
        bounding_radius: [S] radius of a room-space sphere around ``offset`` containing
            the (deformed) object at each frame time.
    """

    object_id: int
    shape: Shape
    motion: Motion
    texture: Texture
    is_static: bool
    is_deforming: bool
    linear: np.ndarray
    offset: np.ndarray
    bounding_radius: np.ndarray


@dataclass(frozen=True, eq=False)
class Lighting:
    """Directional light + ambient + a weak opposite fill light, in room coordinates.

    Attributes:
        direction: [3] unit vector pointing *towards* the light.
        ambient: ambient fraction in [0, 1].
        fill: relative strength of the fill light from ``-direction``.
        color: [3] RGB gain (white balance and exposure).
    """

    direction: np.ndarray
    ambient: float
    fill: float
    color: np.ndarray


@dataclass(frozen=True, eq=False)
class Scene:
    """A fully specified dynamic scene sampled from one seed.

    Attributes:
        config: configuration it was sampled with.
        seed: the seed.
        times: [S] frame times in seconds (``i / fps``).
        intrinsics: [3, 3] pinhole K shared by all frames (pixel-centre convention).
        camera: camera poses (room-from-camera) at the frame times.
        room: static room box.
        room_textures: 6 textures, indexed by ``RoomBox`` face id.
        objects: foreground objects, ``objects[k - 1].object_id == k``.
        lighting: light setup.
        noise_seed: seed of the image-noise generator.
    """

    config: SceneConfig
    seed: int
    times: np.ndarray
    intrinsics: np.ndarray
    camera: CameraTrajectory
    room: RoomBox
    room_textures: tuple[Texture, ...]
    objects: tuple[SceneObject, ...]
    lighting: Lighting
    noise_seed: int


def sample_scene(seed: int, config: SceneConfig) -> Scene:
    """Sample the complete scene for ``seed`` (deterministic: same inputs, same scene)."""
    rng = np.random.default_rng(seed)
    times = np.arange(config.frames, dtype=np.float64) / config.fps
    size = rng.uniform(*config.room_size_range, size=2)
    half = 0.5 * np.array([size[0], size[1], rng.uniform(*config.room_height_range)])
    room = RoomBox(half)
    intrinsics = sample_intrinsics(rng, config)
    camera = sample_camera_trajectory(rng, config, room, times)
    room_textures = _sample_room_textures(rng)

    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    deforming = np.zeros(count, dtype=bool)
    deforming[: config.deforming_objects] = True
    rng.shuffle(deforming)
    objects: list[SceneObject] = []
    for flag in deforming:
        obj = _sample_object(rng, config, len(objects) + 1, bool(flag), times, intrinsics, camera, room, objects)
        if obj is not None:
            objects.append(obj)

    light = random_unit_vector(rng) * np.array([1.0, 1.0, 0.0]) + np.array([0.0, 0.0, rng.uniform(0.5, 2.0)])
    lighting = Lighting(
        direction=light / np.linalg.norm(light),
        ambient=float(rng.uniform(*config.ambient_range)),
        fill=float(rng.uniform(0.1, 0.35)),
        color=rng.uniform(0.85, 1.15) * (1.0 + rng.uniform(-0.08, 0.08, size=3)),
    )
    return Scene(
        config=config,
        seed=seed,
        times=times,
        intrinsics=intrinsics,
        camera=camera,
        room=room,
        room_textures=room_textures,
        objects=tuple(objects),
        lighting=lighting,
        noise_seed=int(rng.integers(2**31)),
    )


def _sample_room_textures(rng: np.random.Generator) -> tuple[Texture, ...]:
    textures = []
    for face in range(6):
        if face == 4:  # floor: tiles look best aligned with the floor plane
            rot = axis_angle_to_matrix(np.array([0.0, 0.0, 1.0]), rng.uniform(0.0, np.pi, size=1))[0]
            textures.append(sample_texture(rng, (0.3, 1.0), ("checker", "grid", "noise", "marble"), rot))
        else:
            textures.append(sample_texture(rng, (0.25, 1.2)))
    return tuple(textures)


def _sample_shape(rng: np.random.Generator, kind: str, radius: float) -> Shape:
    """Primitive whose bounding radius is ``radius`` (metres)."""
    if kind == "sphere":
        return Sphere(np.full(3, radius))
    if kind == "ellipsoid":
        axes = radius * np.concatenate([[1.0], rng.uniform(0.4, 1.0, size=2)])
        return Ellipsoid(rng.permutation(axes))
    if kind == "box":
        u = rng.uniform(0.35, 1.0, size=3)
        return Box(radius * u / np.linalg.norm(u))
    angle = rng.uniform(0.35, 1.2)
    return Cylinder(radius * float(np.cos(angle)), radius * float(np.sin(angle)))


def _sample_deformation(rng: np.random.Generator, config: SceneConfig) -> AffineDeformation:
    def freq() -> np.ndarray:
        return 2.0 * np.pi * rng.uniform(*config.deform_cycles_per_frame_range, size=3) * config.fps

    strength = config.deform_strength
    return AffineDeformation(
        stretch_amp=strength * rng.uniform(0.5, 1.0, size=3),
        stretch_freq=freq(),
        stretch_phase=rng.uniform(0.0, 2.0 * np.pi, size=3),
        shear_amp=strength * rng.uniform(0.0, 0.8, size=3),
        shear_freq=freq(),
        shear_phase=rng.uniform(0.0, 2.0 * np.pi, size=3),
    )


def _sample_object(
    rng: np.random.Generator,
    config: SceneConfig,
    object_id: int,
    deforming: bool,
    times: np.ndarray,
    intrinsics: np.ndarray,
    camera: CameraTrajectory,
    room: RoomBox,
    others: list[SceneObject],
) -> SceneObject | None:
    """One object placed in view of the camera path; None if no valid placement was found."""
    kind = str(SHAPE_KINDS[rng.integers(len(SHAPE_KINDS))])
    deformation = _sample_deformation(rng, config) if deforming else None
    # Largest stretch over the window, so the deformed object stays inside its bounding sphere.
    stretch = 1.0
    if deformation is not None:
        stretch = float(np.linalg.norm(deformation.matrices(times), ord=2, axis=(1, 2)).max())
    static_pose = rng.random() < config.static_object_prob
    crossing = config.frames >= 2 and rng.random() < config.cross_view_prob
    radius0 = rng.uniform(*config.object_size_range)

    for attempt in range(_PLACEMENT_ATTEMPTS):
        radius = radius0 * 0.85 ** (attempt // 8)
        shape = _sample_shape(rng, kind, radius / stretch)
        cross = crossing and attempt < 24
        static = static_pose and not cross
        rigid = _sample_rigid_motion(rng, config, times, intrinsics, camera, room, radius, static, cross)
        if rigid is None:
            continue
        motion: Motion = rigid if deformation is None else DeformingMotion(rigid, deformation)
        linear, offset = motion.transforms(times)
        bound = shape.bounding_radius * np.linalg.norm(linear, ord=2, axis=(1, 2)) * (1.0 + 1e-9)
        if _placement_ok(offset, float(bound.max()), camera, room, others):
            texture = sample_texture(rng, (0.2 * radius, 0.7 * radius))
            return SceneObject(
                object_id=object_id,
                shape=shape,
                motion=motion,
                texture=texture,
                is_static=deformation is None and rigid.is_static,
                is_deforming=deformation is not None,
                linear=linear,
                offset=offset,
                bounding_radius=bound,
            )
    return None


def _placement_ok(centres: np.ndarray, radius: float, camera: CameraTrajectory, room: RoomBox, others: list[SceneObject]) -> bool:
    if not room.contains_sphere(centres, radius, margin=0.02):
        return False
    if np.any(np.linalg.norm(centres - camera.positions, axis=-1) < radius + _CAMERA_CLEARANCE):
        return False
    for other in others:
        # Mild interpenetration is allowed (ground truth stays exact) but heavy overlap looks odd.
        gap = np.linalg.norm(centres - other.offset, axis=-1)
        if np.any(gap < 0.9 * (radius + other.bounding_radius)):
            return False
    return True


def _camera_point(camera: CameraTrajectory, intrinsics: np.ndarray, frame: int, u: float, v: float, depth: float) -> np.ndarray:
    """Room point [3] seen at pixel (u, v) of ``frame`` at ``depth`` (camera z, metres)."""
    ray = np.array([(u - intrinsics[0, 2]) / intrinsics[0, 0], (v - intrinsics[1, 2]) / intrinsics[1, 1], 1.0])
    return camera.positions[frame] + camera.rotations[frame] @ (depth * ray)


def _wall_depth(camera: CameraTrajectory, intrinsics: np.ndarray, room: RoomBox, frame: int, u: float, v: float) -> float:
    """Camera-z depth at which pixel (u, v) of ``frame`` meets the room."""
    ray = np.array([(u - intrinsics[0, 2]) / intrinsics[0, 0], (v - intrinsics[1, 2]) / intrinsics[1, 1], 1.0])
    t, _ = room.intersect(camera.positions[frame][None], (camera.rotations[frame] @ ray)[None])
    return float(t[0])


def _sample_depth(rng: np.random.Generator, config: SceneConfig, wall: float, radius: float) -> float | None:
    hi = min(config.object_depth_range[1], wall - 1.2 * radius - 0.05)
    lo = min(config.object_depth_range[0], hi)
    if hi < radius + _CAMERA_CLEARANCE + 0.2:
        return None
    return float(rng.uniform(lo, hi))


def _sample_rigid_motion(
    rng: np.random.Generator,
    config: SceneConfig,
    times: np.ndarray,
    intrinsics: np.ndarray,
    camera: CameraTrajectory,
    room: RoomBox,
    radius: float,
    static: bool,
    crossing: bool,
) -> RigidMotion | None:
    """Centre path and spin of an object of bounding ``radius``; None if this draw failed."""
    h, w = config.height, config.width
    rotation = random_rotation(rng)
    if crossing:
        return _sample_crossing_motion(rng, config, times, intrinsics, camera, room, radius, rotation)

    frame = int(rng.integers(len(times)))
    u, v = rng.uniform(0.1, 0.9) * w - 0.5, rng.uniform(0.15, 0.85) * h - 0.5
    depth = _sample_depth(rng, config, _wall_depth(camera, intrinsics, room, frame, u, v), radius)
    if depth is None:
        return None
    centre = _camera_point(camera, intrinsics, frame, u, v, depth)
    if static:
        return RigidMotion.static(centre, rotation)
    speed = rng.uniform(*config.object_step_range) * config.fps
    velocity = random_unit_vector(rng) * np.array([1.0, 1.0, 0.4])
    velocity *= speed / np.linalg.norm(velocity)
    acceleration = random_unit_vector(rng) * rng.uniform(0.0, 0.3) * speed * config.fps
    return RigidMotion(
        base_rotation=rotation,
        spin_axes=np.stack([random_unit_vector(rng), random_unit_vector(rng)]),
        spin_rates=_spin_rates(rng, config),
        position=centre,
        velocity=velocity,
        acceleration=acceleration,
        ref_time=float(times[frame]),
    )


def _spin_rates(rng: np.random.Generator, config: SceneConfig) -> np.ndarray:
    main = np.deg2rad(rng.uniform(*config.object_rotation_deg_range)) * config.fps
    return np.array([main, rng.uniform(0.0, 0.5) * main]) * rng.choice([-1.0, 1.0], size=2)


def _sample_crossing_motion(
    rng: np.random.Generator,
    config: SceneConfig,
    times: np.ndarray,
    intrinsics: np.ndarray,
    camera: CameraTrajectory,
    room: RoomBox,
    radius: float,
    rotation: np.ndarray,
) -> RigidMotion | None:
    """Straight path from fully outside the view at one end of the window to inside at the other."""
    h, w = config.height, config.width
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    out_frame, in_frame = (0, len(times) - 1) if rng.random() < 0.5 else (len(times) - 1, 0)
    side = int(rng.choice(4, p=[0.35, 0.35, 0.15, 0.15]))  # left, right, top, bottom
    along = rng.uniform(0.2, 0.8)
    inset = rng.uniform(0.08, 0.3)
    if side < 2:
        u_edge = -0.5 if side == 0 else w - 0.5
        v_edge = along * h - 0.5
        slope = (u_edge - cx) / fx
        # Inward normal of the frustum side plane x = slope * z (camera coordinates).
        normal = np.array([1.0, 0.0, -slope]) if side == 0 else np.array([-1.0, 0.0, slope])
        u_in = inset * w - 0.5 if side == 0 else (1.0 - inset) * w - 0.5
        v_in = v_edge
    else:
        u_edge = along * w - 0.5
        v_edge = -0.5 if side == 2 else h - 0.5
        slope = (v_edge - cy) / fy
        normal = np.array([0.0, 1.0, -slope]) if side == 2 else np.array([0.0, -1.0, slope])
        u_in = u_edge
        v_in = inset * h - 0.5 if side == 2 else (1.0 - inset) * h - 0.5
    normal /= np.linalg.norm(normal)

    depth = _sample_depth(rng, config, _wall_depth(camera, intrinsics, room, out_frame, u_edge, v_edge), radius)
    if depth is None:
        return None
    edge_cam = depth * np.array([(u_edge - cx) / fx, (v_edge - cy) / fy, 1.0])
    # Centre pushed out of the frustum by more than the bounding radius: no pixel can see it.
    outside_cam = edge_cam - normal * (1.05 * radius + 0.02)
    start = camera.positions[out_frame] + camera.rotations[out_frame] @ outside_cam

    # Similar depth at both ends keeps the path mostly sideways (and its speed moderate).
    wall_in = _wall_depth(camera, intrinsics, room, in_frame, u_in, v_in)
    depth_in = min(depth * rng.uniform(0.8, 1.2), wall_in - 1.2 * radius - 0.05)
    if depth_in < radius + _CAMERA_CLEARANCE + 0.2:
        return None
    end = _camera_point(camera, intrinsics, in_frame, u_in, v_in, depth_in)
    velocity = (end - start) / (times[in_frame] - times[out_frame])
    if np.linalg.norm(velocity) / config.fps > 3.0 * config.object_step_range[1] + 0.1:
        return None
    return RigidMotion(
        base_rotation=rotation,
        spin_axes=np.stack([random_unit_vector(rng), random_unit_vector(rng)]),
        spin_rates=_spin_rates(rng, config),
        position=start,
        velocity=velocity,
        acceleration=np.zeros(3),
        ref_time=float(times[out_frame]),
    )
