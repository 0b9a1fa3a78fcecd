"""Camera intrinsics and smooth 6-DoF camera trajectories inside the room.

Room coordinates: origin at the room centre, z up (metres). Camera axes follow OpenCV
(x right, y down, z forward). Rotations returned here are room-from-camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SceneConfig
from .primitives import RoomBox
from .transforms import euler_small_to_matrix, look_at

UP = np.array([0.0, 0.0, 1.0])
TRAJECTORY_KINDS: tuple[str, ...] = ("orbit", "dolly", "arc")

# Keep the camera this far from walls / floor / ceiling and from its look-at point (metres).
_WALL_MARGIN = 0.35
_MIN_TARGET_DISTANCE = 1.0


@dataclass(frozen=True, eq=False)
class CameraTrajectory:
    """Camera poses at the frame times.

    Attributes:
        rotations: [S, 3, 3] room-from-camera rotations.
        positions: [S, 3] camera centres in room coordinates (metres).
        targets: [S, 3] look-at points before jitter (room coordinates, metres).
        kind: trajectory family ("orbit", "dolly", "arc" or "static" after fallback).
    """

    rotations: np.ndarray
    positions: np.ndarray
    targets: np.ndarray
    kind: str


def sample_intrinsics(rng: np.random.Generator, config: SceneConfig) -> np.ndarray:
    """Pinhole K [3, 3] with a random horizontal FoV, square pixels, centred principal point.

    Pixel-centre convention: integer (u, v) is the centre of a pixel, so the image spans
    u in [-0.5, W - 0.5] and the principal point is ((W - 1) / 2, (H - 1) / 2).
    """
    fov = np.deg2rad(rng.uniform(*config.fov_deg_range))
    focal = 0.5 * config.width / np.tan(0.5 * fov)
    return np.array(
        [
            [focal, 0.0, 0.5 * (config.width - 1)],
            [0.0, focal, 0.5 * (config.height - 1)],
            [0.0, 0.0, 1.0],
        ]
    )


def sample_camera_trajectory(rng: np.random.Generator, config: SceneConfig, room: RoomBox, times: np.ndarray) -> CameraTrajectory:
    """Random smooth camera path that stays inside ``room`` and looks into it.

    Args:
        rng: random generator.
        config: scene configuration (camera_step_range, camera_height_range, jitter, fps).
        room: the room box.
        times: [S] frame times in seconds, ``times[0] == 0``.
    """
    hx, hy, hz = room.half_extents
    start = np.array(
        [
            rng.uniform(-(hx - 1.0), hx - 1.0),
            rng.uniform(-(hy - 1.0), hy - 1.0),
            -hz + rng.uniform(*config.camera_height_range),
        ]
    )
    focus = _sample_focus(rng, start, room)
    speed = rng.uniform(*config.camera_step_range) * config.fps  # m/s
    kind = str(TRAJECTORY_KINDS[rng.integers(len(TRAJECTORY_KINDS))])
    t = np.asarray(times, dtype=np.float64)

    if kind == "orbit":
        offset = start[:2] - focus[:2]
        radius = np.linalg.norm(offset)
        phase = np.arctan2(offset[1], offset[0]) + rng.choice([-1.0, 1.0]) * speed / radius * t
        climb = rng.uniform(-0.3, 0.3) * speed * t
        positions = np.stack([focus[0] + radius * np.cos(phase), focus[1] + radius * np.sin(phase), start[2] + climb], axis=-1)
        targets = np.tile(focus, (t.shape[0], 1))
    elif kind == "dolly":
        forward = (focus - start) * np.array([1.0, 1.0, 0.0])
        forward /= np.linalg.norm(forward)
        lateral = np.cross(forward, UP)
        direction = (
            rng.uniform(-0.6, 0.6) * forward + rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0) * lateral + rng.uniform(-0.2, 0.2) * UP
        )
        direction /= np.linalg.norm(direction)
        bob_freq = 2.0 * np.pi * rng.uniform(0.1, 0.25) * config.fps
        bob_phase = rng.uniform(0.0, 2.0 * np.pi)
        bob = 0.15 * speed / config.fps * (np.sin(bob_freq * t + bob_phase) - np.sin(bob_phase))
        positions = start + direction * speed * t[:, None] + bob[:, None] * UP
        # Partly following the camera mixes panning with pure translation.
        targets = focus + rng.uniform(0.3, 1.0) * (positions - start)
    else:  # arc
        velocity = rng.normal(size=3) * np.array([1.0, 1.0, 0.3])
        velocity *= speed / np.linalg.norm(velocity)
        # At most ~10 % change of the per-frame step per frame.
        acceleration = rng.normal(size=3) * np.array([1.0, 1.0, 0.3])
        acceleration *= rng.uniform(0.0, 0.1) * speed * config.fps / np.linalg.norm(acceleration)
        positions = start + velocity * t[:, None] + 0.5 * acceleration * (t * t)[:, None]
        drift = rng.normal(size=3) * np.array([1.0, 1.0, 0.2]) * rng.uniform(0.0, 1.0) * speed
        targets = focus + drift * t[:, None]

    positions, targets, kind = _fit_in_room(start, focus, positions, targets, room, kind)
    rotations = look_at(positions, targets, UP) @ _sample_jitter(rng, config, t)
    return CameraTrajectory(rotations=rotations, positions=positions, targets=targets, kind=kind)


def _sample_focus(rng: np.random.Generator, start: np.ndarray, room: RoomBox) -> np.ndarray:
    """Look-at point in the room, 1.5-4 m away horizontally, biased towards the room centre."""
    hx, hy, hz = room.half_extents
    limit = np.array([hx - 0.8, hy - 0.8])
    towards_centre = np.arctan2(-start[1], -start[0]) if np.linalg.norm(start[:2]) > 0.3 else rng.uniform(-np.pi, np.pi)
    best = None
    for _ in range(20):
        angle = towards_centre + rng.uniform(-1.0, 1.0)
        xy = start[:2] + rng.uniform(2.0, 4.0) * np.array([np.cos(angle), np.sin(angle)])
        xy = np.clip(xy, -limit, limit)
        distance = np.linalg.norm(xy - start[:2])
        if best is None or distance > best[1]:
            best = (xy, distance)
        if distance >= 1.5:
            break
    assert best is not None
    return np.array([best[0][0], best[0][1], -hz + rng.uniform(0.4, 1.4)])


def _fit_in_room(
    start: np.ndarray,
    focus: np.ndarray,
    positions: np.ndarray,
    targets: np.ndarray,
    room: RoomBox,
    kind: str,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Shrink the path about its start until it stays inside the room (else keep the camera still)."""
    limit = room.half_extents - _WALL_MARGIN
    for _ in range(8):
        inside = np.all(np.abs(positions) <= limit)
        far_enough = np.all(np.linalg.norm(targets - positions, axis=-1) >= _MIN_TARGET_DISTANCE)
        if inside and far_enough:
            return positions, targets, kind
        positions = start + 0.6 * (positions - start)
        targets = focus + 0.6 * (targets - focus)
    return np.tile(start, (positions.shape[0], 1)), np.tile(focus, (positions.shape[0], 1)), "static"


def _sample_jitter(rng: np.random.Generator, config: SceneConfig, t: np.ndarray) -> np.ndarray:
    """Smooth small camera-frame rotations [S, 3, 3] (hand-held look-at wobble)."""
    amp = np.deg2rad(config.camera_jitter_deg) * rng.uniform(0.3, 1.0, size=3) * np.array([1.0, 1.0, 0.5])
    freq = 2.0 * np.pi * rng.uniform(0.05, 0.2, size=3) * config.fps
    phase = rng.uniform(0.0, 2.0 * np.pi, size=3)
    angles = amp * np.sin(freq * t[:, None] + phase)
    return euler_small_to_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
