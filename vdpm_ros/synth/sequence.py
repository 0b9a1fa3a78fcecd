"""Public entry point: ``generate_sequence(seed, config) -> SyntheticSequence``."""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .config import SceneConfig
from .render import cast_rays, extrinsics, pixel_grid, point_maps, render_image
from .scene import Scene, sample_scene


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of foreground object ``object_id`` (as written in ``object_ids``).

    Attributes:
        object_id: id > 0.
        shape: "sphere", "ellipsoid", "box" or "cylinder".
        is_static: the object never moves.
        is_deforming: the object deforms non-rigidly (affine); otherwise it is rigid.
    """

    object_id: int
    shape: str
    is_static: bool
    is_deforming: bool


@dataclass(eq=False)
class SyntheticSequence:
    """A window of S frames with exact 4D ground truth.

    World frame = camera frame of frame 0 (OpenCV axes: x right, y down, z forward), metres.

    Attributes:
        images: [S, H, W, 3] uint8 RGB.
        pointmaps: [S, S, H, W, 3] float32; ``pointmaps[j, i]`` = P_i(t_j): for each pixel of
            frame i, the 3D position of its surface point at time t_j, in the world frame.
        valid: [S, H, W] bool, the pixel sees a surface.
        depth: [S, H, W] float32, z of the visible point in camera i (metres), 0 where invalid.
        intrinsics: [S, 3, 3] float32 pinhole K (integer pixel coordinates = pixel centres).
        extrinsics: [S, 3, 4] float32 camera-from-world [R | t]; ``extrinsics[0] = [I | 0]``.
        object_ids: [S, H, W] int16, 0 = static background (room), k > 0 = object k.
        motion_mask: [S, H, W] bool, the visible point moves by more than
            ``config.motion_epsilon`` at some time of the window.
        timestamps: [S] float64 seconds (i / fps).
        seed: the seed the sequence was generated from.
        objects: metadata of the foreground objects, ``objects[k - 1].object_id == k``.
    """

    images: np.ndarray
    pointmaps: np.ndarray
    valid: np.ndarray
    depth: np.ndarray
    intrinsics: np.ndarray
    extrinsics: np.ndarray
    object_ids: np.ndarray
    motion_mask: np.ndarray
    timestamps: np.ndarray
    seed: int
    objects: tuple[ObjectInfo, ...] = field(default_factory=tuple)

    @property
    def num_frames(self) -> int:
        return int(self.images.shape[0])

    def scene_flow(self, i: int, j: int) -> np.ndarray:
        """[H, W, 3] float32 motion of frame i's points from t_i to t_j (world frame, metres)."""
        return self.pointmaps[j, i] - self.pointmaps[i, i]

    def tracks(self, i: int) -> np.ndarray:
        """[S, H, W, 3] 3D trajectories of frame i's pixels over all frame times (world frame)."""
        return self.pointmaps[:, i]

    def camera_to_world(self) -> np.ndarray:
        """[S, 4, 4] float64 world-from-camera poses (inverse of ``extrinsics``)."""
        rot = self.extrinsics[:, :, :3].astype(np.float64)
        trans = self.extrinsics[:, :, 3].astype(np.float64)
        out = np.tile(np.eye(4), (self.num_frames, 1, 1))
        out[:, :3, :3] = np.transpose(rot, (0, 2, 1))
        out[:, :3, 3] = -np.einsum("sji,sj->si", rot, trans)
        return out

    def project(self, points: np.ndarray, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Project world points [..., 3] into camera ``frame``.

        Returns:
            uv: [..., 2] float64 pixel coordinates (pixel-centre convention).
            z: [..., ] float64 depth in that camera (metres).
        """
        rot = self.extrinsics[frame, :, :3].astype(np.float64)
        cam = np.asarray(points, dtype=np.float64) @ rot.T + self.extrinsics[frame, :, 3].astype(np.float64)
        k = self.intrinsics[frame].astype(np.float64)
        z = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([k[0, 0] * cam[..., 0] / z + k[0, 2], k[1, 1] * cam[..., 1] / z + k[1, 2]], axis=-1)
        return uv, z


def generate_sequence(seed: int, config: SceneConfig = SceneConfig()) -> SyntheticSequence:
    """Sample and render one synthetic sequence (deterministic in ``seed`` and ``config``).

    Args:
        seed: non-negative integer seed of ``np.random.default_rng``.
        config: scene configuration.
    """
    return render_sequence(_sample(seed, config))


def _sample(seed: int, config: SceneConfig) -> Scene:
    """The scene of ``seed``, after checking both arguments (one check for every public generator)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(config, SceneConfig):
        raise ValueError(f"config must be a SceneConfig, got {type(config).__name__}")
    return sample_scene(int(seed), config)


def generate_images(seed: int, config: SceneConfig = SceneConfig()) -> tuple[np.ndarray, np.ndarray]:
    """The camera images of :func:`generate_sequence` (the same pixels) and their stamps, without the ground truth.

    For streams that only need a camera: the point maps alone are ``[S, S, H, W, 3]`` float32, 43 x 43 x 320 x 240 x 3 x 4 bytes
    = 1.7 GB for 43 frames at 320x240. :func:`iter_images` also bounds the ray casting's memory.

    Returns:
        (images ``[S, H, W, 3]`` uint8 RGB, timestamps ``[S]`` seconds).
    """
    scene = _sample(seed, config)
    ((images, stamps),) = _image_chunks(scene, config.frames)
    return images, stamps


def iter_images(seed: int, config: SceneConfig = SceneConfig(), chunk_frames: int = 8) -> Iterator[tuple[np.ndarray, float]]:
    """The frames of :func:`generate_images` one at a time (the same pixels): ``(image [H, W, 3] uint8, stamp in s)``.

    Rays are cast ``chunk_frames`` frames at a time. Casting them for a whole long sequence at once holds
    several float64 arrays per ray, hundreds of MB for 90 frames at 320x240: a benchmark that measures the
    node's peak memory must not measure its synthetic camera's instead.
    """
    if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, numbers.Integral) or chunk_frames < 1:
        raise ValueError(f"chunk_frames must be a positive int, got {chunk_frames!r}")
    for images, stamps in _image_chunks(_sample(seed, config), int(chunk_frames)):
        yield from zip(images, stamps.tolist())


def _image_chunks(scene: Scene, chunk_frames: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    grid = pixel_grid(scene.config.height, scene.config.width)
    # One noise generator drawn in frame order: each part gets the numbers one draw for all frames would.
    noise = np.random.default_rng(scene.noise_seed)
    for start in range(0, scene.config.frames, chunk_frames):
        frames = np.arange(start, min(scene.config.frames, start + chunk_frames))
        yield _images(scene, cast_rays(scene, grid, frames), noise, frames), scene.times[frames].copy()


def _images(scene: Scene, hits, noise: np.random.Generator, frames: np.ndarray | None = None) -> np.ndarray:
    cfg = scene.config
    rgb = render_image(scene, hits, frames)
    if cfg.image_noise_std > 0.0:
        rgb = rgb + noise.normal(0.0, cfg.image_noise_std / 255.0, rgb.shape)
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def render_sequence(scene: Scene) -> SyntheticSequence:
    """Render images and all ground truth of a sampled scene."""
    cfg = scene.config
    s, h, w = cfg.frames, cfg.height, cfg.width
    hits = cast_rays(scene, pixel_grid(h, w))
    points, moving = point_maps(scene, hits, np.float32)
    images = _images(scene, hits, np.random.default_rng(scene.noise_seed))
    valid = hits.valid
    return SyntheticSequence(
        images=images,
        pointmaps=points.reshape(s, s, h, w, 3),
        valid=valid.reshape(s, h, w),
        depth=np.where(valid, hits.t, 0.0).reshape(s, h, w).astype(np.float32),
        intrinsics=np.tile(scene.intrinsics, (s, 1, 1)).astype(np.float32),
        extrinsics=extrinsics(scene).astype(np.float32),
        object_ids=hits.object_ids.reshape(s, h, w),
        motion_mask=moving.reshape(s, h, w),
        timestamps=scene.times.copy(),
        seed=scene.seed,
        objects=tuple(ObjectInfo(o.object_id, o.shape.kind, o.is_static, o.is_deforming) for o in scene.objects),
    )
