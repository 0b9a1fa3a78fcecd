"""Vectorised ray casting, shading and exact 4D point maps for a sampled ``Scene``.

Rays of pixel (u, v) have camera-frame direction ``((u - cx) / fx, (v - cy) / fy, 1)``;
because its z component is 1 the ray parameter ``t`` of a hit *is* its camera depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .scene import Scene, SceneObject


@dataclass(frozen=True, eq=False)
class RayHits:
    """Nearest surfaces along a batch of rays, for F frames and P pixel samples each.

    Attributes:
        frames: [F] frame indices the rays were cast from (at those frames' times).
        t: [F, P] hit parameter = camera depth (metres); ``inf`` where nothing was hit.
        object_ids: [F, P] int16, 0 = room, k > 0 = ``scene.objects[k - 1]``.
        local_points: [F, P, 3] hit points in the hit surface's canonical coordinates
            (room coordinates for the room), metres.
        room_faces: [F, P] int64 room face id, -1 where an object was hit.
    """

    frames: np.ndarray
    t: np.ndarray
    object_ids: np.ndarray
    local_points: np.ndarray
    room_faces: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """[F, P] bool, True where the ray hit a surface."""
        return np.isfinite(self.t)


def _apply(vectors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``matrix @ v`` for every row v of vectors [N, 3] -> [N, 3].

    A contiguous 2D matmul hits BLAS; broadcast or transposed-view matmuls with an inner
    dimension of 3 are several times slower in numpy.
    """
    return vectors @ np.ascontiguousarray(matrix.T)


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Integer pixel centres [H * W, 2] as (u, v), row-major (v slowest)."""
    v, u = np.mgrid[0:height, 0:width]
    return np.stack([u.ravel(), v.ravel()], axis=-1).astype(np.float64)


def camera_rays(intrinsics: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Camera-frame ray directions [P, 3] with z = 1 for pixel positions uv [P, 2]."""
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    return np.stack([(uv[:, 0] - cx) / fx, (uv[:, 1] - cy) / fy, np.ones(uv.shape[0])], axis=-1)


def cast_rays(scene: Scene, uv: np.ndarray, frames: Sequence[int] | None = None) -> RayHits:
    """Ray cast pixel positions ``uv`` [P, 2] (any sub-pixel position) in each of ``frames``.

    Objects are posed at each frame's own time. Defaults to all frames.
    """
    frame_idx = np.arange(len(scene.times)) if frames is None else np.asarray(frames, dtype=np.int64)
    rays = camera_rays(scene.intrinsics, uv)
    rotations = scene.camera.rotations[frame_idx]  # [F, 3, 3] room-from-camera
    positions = scene.camera.positions[frame_idx]  # [F, 3]
    directions = np.stack([_apply(rays, r) for r in rotations])  # [F, P, 3] room frame

    t, faces = scene.room.intersect(positions[:, None, :], directions)
    local = positions[:, None, :] + t[..., None] * directions
    ids = np.zeros(t.shape, dtype=np.int16)
    for obj in scene.objects:
        _intersect_object(scene, obj, frame_idx, uv, rays, rotations, positions, t, ids, local)
    faces = np.where(ids == 0, faces, -1)
    return RayHits(frames=frame_idx, t=t, object_ids=ids, local_points=local, room_faces=faces)


def _intersect_object(
    scene: Scene,
    obj: SceneObject,
    frame_idx: np.ndarray,
    uv: np.ndarray,
    rays: np.ndarray,
    rotations: np.ndarray,
    positions: np.ndarray,
    t: np.ndarray,
    ids: np.ndarray,
    local: np.ndarray,
) -> None:
    """Z-buffer one object into (t, ids, local), in place."""
    linear = obj.linear[frame_idx]
    offset = obj.offset[frame_idx]
    inv = np.linalg.inv(linear)
    # Rays in canonical space keep their t, because the room -> local map is affine.
    origins_local = np.einsum("fij,fj->fi", inv, positions - offset)
    dirs_to_local = inv @ rotations  # camera direction -> canonical direction
    for f in range(frame_idx.shape[0]):
        radius = obj.bounding_radius[frame_idx[f]]
        p_sel = _screen_cull(scene.intrinsics, uv, rotations[f], positions[f], offset[f], radius)
        if p_sel.size == 0:
            continue
        d = _apply(rays[p_sel], dirs_to_local[f])
        o = np.broadcast_to(origins_local[f], d.shape)
        t_obj = obj.shape.intersect(o, d)
        closer = t_obj < t[f, p_sel]
        p_win = p_sel[closer]
        t[f, p_win] = t_obj[closer]
        ids[f, p_win] = obj.object_id
        local[f, p_win] = origins_local[f] + t_obj[closer, None] * d[closer]


def _screen_cull(
    intrinsics: np.ndarray,
    uv: np.ndarray,
    rotation: np.ndarray,
    position: np.ndarray,
    centre: np.ndarray,
    radius: float,
) -> np.ndarray:
    """Indices into ``uv`` of pixels inside the projected bounding box of a bounding sphere.

    Conservative: x/z over the axis-aligned box around the sphere is extremal at its
    corners (z > 0), and the sphere lies inside that box.
    """
    x, y, z = rotation.T @ (centre - position)  # sphere centre in camera coordinates
    r = radius
    if z + r <= 0.0:
        return np.zeros(0, dtype=np.int64)  # entirely behind the camera
    if z - r <= 1e-3:
        return np.arange(uv.shape[0])  # too close to bound projectively; test every ray
    depths = np.array([z - r, z + r])
    xs = np.concatenate([(x - r) / depths, (x + r) / depths])
    ys = np.concatenate([(y - r) / depths, (y + r) / depths])
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    u0, u1 = fx * xs.min() + cx - 1.0, fx * xs.max() + cx + 1.0
    v0, v1 = fy * ys.min() + cy - 1.0, fy * ys.max() + cy + 1.0
    u, v = uv[:, 0], uv[:, 1]
    return np.nonzero((u >= u0) & (u <= u1) & (v >= v0) & (v <= v1))[0]


def _frame_slices(flat_idx: np.ndarray, num_frames: int, rays_per_frame: int) -> list[slice]:
    """Slices of a sorted flat index array (f * P + p) belonging to each frame f."""
    bounds = np.searchsorted(flat_idx, np.arange(num_frames + 1) * rays_per_frame)
    return [slice(bounds[f], bounds[f + 1]) for f in range(num_frames)]


def shade(scene: Scene, hits: RayHits) -> np.ndarray:
    """Linear RGB [F, P, 3] float32 in [0, 1]: textured albedo x (ambient + Lambert + fill)."""
    f_count, p_count = hits.t.shape
    ids = hits.object_ids.reshape(-1)
    faces = hits.room_faces.reshape(-1)
    local = hits.local_points.reshape(-1, 3)
    albedo = np.zeros((ids.shape[0], 3), dtype=np.float32)
    normals = np.zeros((ids.shape[0], 3), dtype=np.float32)

    room_idx = np.nonzero((faces >= 0) & hits.valid.reshape(-1))[0]
    room_faces = faces[room_idx]
    normals[room_idx] = scene.room.face_normals(np.arange(6))[room_faces]
    by_face = room_idx[np.argsort(room_faces, kind="stable")]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(room_faces, minlength=6))])
    for face, texture in enumerate(scene.room_textures):
        idx = by_face[bounds[face] : bounds[face + 1]]
        if idx.size:
            albedo[idx] = texture(local[idx])

    for obj in scene.objects:
        idx = np.nonzero(ids == obj.object_id)[0]
        if idx.size == 0:
            continue
        points = local[idx]
        albedo[idx] = obj.texture(points)
        n_local = obj.shape.normals(points)
        # Normals transform with the inverse transpose of the linear part (per frame).
        inv = np.linalg.inv(obj.linear[hits.frames])
        n = np.empty_like(n_local)
        for f, sl in enumerate(_frame_slices(idx, f_count, p_count)):
            n[sl] = _apply(n_local[sl], inv[f].T)
        normals[idx] = n / np.sqrt(np.einsum("ni,ni->n", n, n))[:, None]

    light = scene.lighting
    cosine = normals @ light.direction.astype(np.float32)
    diffuse = np.maximum(cosine, 0.0) + np.float32(light.fill) * np.maximum(-cosine, 0.0)
    intensity = np.float32(light.ambient) + np.float32(1.0 - light.ambient) * diffuse
    rgb = albedo * intensity[:, None] * light.color.astype(np.float32)
    return np.clip(rgb, 0.0, 1.0).reshape(f_count, p_count, 3)


def render_image(scene: Scene, hits: RayHits | None = None, frames: Sequence[int] | None = None) -> np.ndarray:
    """Float RGB [F, H, W, 3] in [0, 1] of ``frames`` (default: all S); ``hits`` = their pixel-centre hits (reused if given).

    With ``config.antialias = a > 1`` colours average a x a sub-pixel samples. A pixel's colour depends only
    on its own frame, so rendering the frames in parts gives the same values as rendering them at once.
    """
    cfg = scene.config
    grid = pixel_grid(cfg.height, cfg.width)
    count = len(scene.times) if frames is None else len(frames)
    a = cfg.antialias
    if a == 1:
        rgb = shade(scene, hits if hits is not None else cast_rays(scene, grid, frames))
    else:
        rgb = np.zeros((count, grid.shape[0], 3))
        steps = (np.arange(a) + 0.5) / a - 0.5
        for du in steps:
            for dv in steps:
                rgb += shade(scene, cast_rays(scene, grid + np.array([du, dv]), frames))
        rgb /= a * a
    return rgb.reshape(count, cfg.height, cfg.width, 3)


def camera0_transforms(scene: Scene, obj: SceneObject | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-time maps local -> camera-0 frame: linear [S, 3, 3] and offset [S, 3].

    ``obj=None`` means the room (local = room coordinates, identical map at all times).
    """
    r0t = scene.camera.rotations[0].T
    p0 = scene.camera.positions[0]
    s = len(scene.times)
    if obj is None:
        return np.tile(r0t, (s, 1, 1)), np.tile(-r0t @ p0, (s, 1))
    return r0t @ obj.linear, (obj.offset - p0) @ r0t.T


def point_maps(scene: Scene, hits: RayHits, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Exact positions of every hit surface point at every frame time, in camera-0 coordinates.

    Args:
        scene: the scene.
        hits: hits of F frames x P rays.
        dtype: output float dtype (computation is float64 either way).

    Returns:
        points: [S, F, P, 3]; ``points[j, f, p]`` = hit (f, p) at time ``times[j]`` (metres).
            Zero where nothing was hit.
        moving: [F, P] bool, True where the point's largest displacement from its position at
            its own frame's time exceeds ``config.motion_epsilon``.
    """
    s = len(scene.times)
    f_count, p_count = hits.t.shape
    ids = hits.object_ids.reshape(-1)
    local = hits.local_points.reshape(-1, 3)
    own_time = np.repeat(hits.frames, p_count)
    points = np.empty((s, f_count * p_count, 3), dtype=dtype)
    moving = np.zeros(f_count * p_count, dtype=bool)

    # Every pixel first gets the room map (dense and cheap); objects overwrite their pixels.
    # Static surfaces use one evaluation broadcast over time, so P_i(t_j) == P_i(t_i) bit-exactly.
    lin, off = camera0_transforms(scene, None)
    points[:] = (_apply(local, lin[0]) + off[0])[None]
    invalid = np.nonzero(~hits.valid.reshape(-1))[0]
    if invalid.size:
        points[:, invalid] = 0.0
    eps2 = scene.config.motion_epsilon**2
    for obj in scene.objects:
        sel = np.nonzero(ids == obj.object_id)[0]
        if sel.size == 0:
            continue
        lin, off = camera0_transforms(scene, obj)
        obj_local = local[sel]
        if obj.is_static:
            points[:, sel] = (_apply(obj_local, lin[0]) + off[0])[None]
            continue
        pts = np.stack([_apply(obj_local, lin[j]) + off[j] for j in range(s)])  # [S, n, 3]
        points[:, sel] = pts
        delta = pts - pts[own_time[sel], np.arange(sel.size)]
        moving[sel] = np.einsum("jni,jni->jn", delta, delta).max(axis=0) > eps2
    return points.reshape(s, f_count, p_count, 3), moving.reshape(f_count, p_count)


def extrinsics(scene: Scene) -> np.ndarray:
    """Camera-from-world [S, 3, 4] with world = camera of frame 0 (so frame 0 is [I | 0])."""
    r0, p0 = scene.camera.rotations[0], scene.camera.positions[0]
    rot = np.einsum("sji,jk->sik", scene.camera.rotations, r0)  # R_i^T R_0
    trans = np.einsum("sji,sj->si", scene.camera.rotations, p0 - scene.camera.positions)  # R_i^T (p_0 - p_i)
    out = np.concatenate([rot, trans[..., None]], axis=-1)
    out[0] = np.concatenate([np.eye(3), np.zeros((3, 1))], axis=-1)  # exact, not just up to rounding
    return out
