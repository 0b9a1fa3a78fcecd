"""An ORACLE stand-in for V-DPM: the model's streaming API, answered with exact synthetic ground truth.

It lets the processor's and stitcher's maths be checked against ground truth with no learned error:
whatever differs from the ground truth is the pipeline's fault.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from vdpm_ros.geometry import cameras_to_pose_encoding
from vdpm_ros.model.outputs import CameraPrediction, DynamicPointMaps, PointMaps
from vdpm_ros.pipeline import Frame
from vdpm_ros.preprocessing import preprocess_frame
from vdpm_ros.synth import SyntheticSequence

#: Network width of the oracle tests. Raw widths equal to it make the raw <-> network map a pure
#: crop/pad (scale 1), so the oracle's maps can be compared with the ground truth exactly.
ORACLE_IMG = 112
SEED = 1000  # held-out seed with plenty of moving pixels


def frames_of(seq, indices=None, depth: bool = False) -> list[Frame]:
    """The sequence's frames with nanosecond stamps; ``depth=True`` attaches the true depth as the "sensor" depth."""
    indices = range(seq.num_frames) if indices is None else indices
    return [
        Frame(
            stamp_ns=int(round(seq.timestamps[i] * 1e9)),
            rgb=seq.images[i],
            depth=seq.depth[i] if depth else None,
        )
        for i in indices
    ]


#: What the oracle predicts on padding: far away and very confident, so any leak into the outputs shows.
PAD_POINT = 1000.0
PAD_CONF = 1000.0


class OracleModel:
    """Same methods as :class:`vdpm_ros.model.VDPM`; frames are recognised by their preprocessed pixels.

    Args:
        seq: the synthetic sequence whose frames will be fed.
        img_size: network width, as ``VDPMConfig.img_size``.
        mode: preprocessing mode the pipeline uses ("crop" / "pad").
        window_scales: model-unit scale per window, keyed by the window's first sequence index (default 1):
            V-DPM normalises every window differently; this simulates it.
    """

    def __init__(self, seq: SyntheticSequence, img_size: int, mode: str, window_scales: dict[int, float] | None = None) -> None:
        self.config = SimpleNamespace(img_size=img_size)
        self.seq = seq
        self.window_scales = window_scales or {}
        self.calls: list[tuple] = []
        pre = [preprocess_frame(img, mode, img_size) for img in seq.images]
        self.net_images = [t for t, _ in pre]
        self.transforms = [tf for _, tf in pre]
        tf = self.transforms[0]
        h, w = tf.net_hw
        H, W = tf.raw_hw
        v, u = np.mgrid[0:h, 0:w]
        raw = tf.net_to_raw_pixels(np.stack([u, v], axis=-1).astype(np.float64))
        self.ru = np.floor(raw[..., 0] + 0.5).astype(int)
        self.rv = np.floor(raw[..., 1] + 0.5).astype(int)
        self.inside = (self.ru >= 0) & (self.ru < W) & (self.rv >= 0) & (self.rv < H)
        rng = np.random.default_rng(seq.seed)
        # Confidence varies per pixel so that the percentile filter has something to do.
        self.raw_conf = rng.uniform(1.0, 10.0, size=(seq.num_frames, H, W)).astype(np.float32)

    # ------------------------------------------------------------ helpers
    def window_of(self, state) -> tuple[list[int], float]:
        return state.indices, self.window_scales.get(state.indices[0], 1.0)

    def _to_net(self, raw_map: np.ndarray, fill: float) -> np.ndarray:
        ru, rv = np.clip(self.ru, 0, raw_map.shape[1] - 1), np.clip(self.rv, 0, raw_map.shape[0] - 1)
        out = raw_map[rv, ru]
        mask = self.inside if out.ndim == 2 else self.inside[..., None]
        return np.where(mask, out, fill).astype(np.float32)

    def _points(self, state, time_idx: int, frame_idx: int) -> tuple[np.ndarray, np.ndarray]:
        idx, sigma = self.window_of(state)
        a = idx[0]
        world = self.seq.pointmaps[idx[time_idx], idx[frame_idx]].astype(np.float64)
        rot, trans = self.seq.extrinsics[a, :, :3].astype(np.float64), self.seq.extrinsics[a, :, 3].astype(np.float64)
        window = sigma * (world @ rot.T + trans)
        return self._to_net(window, PAD_POINT), self._to_net(self.raw_conf[idx[frame_idx]], PAD_CONF)

    # ------------------------------------------------------- model API
    def encode(self, images: torch.Tensor):
        indices = []
        for img in images:
            match = [k for k, ref in enumerate(self.net_images) if ref.shape == img.shape and torch.equal(ref, img.cpu())]
            assert match, "the oracle was fed an image that is not a frame of its sequence"
            indices.append(match[0])
        self.calls.append(("encode", tuple(indices)))
        return SimpleNamespace(indices=indices, frames=len(indices), batch=1, image_hw=tuple(images.shape[-2:]))

    def cameras(self, state) -> CameraPrediction:
        idx, sigma = self.window_of(state)
        a = idx[0]
        ext = self.seq.extrinsics.astype(np.float64)
        ra, ta = ext[a, :, :3], ext[a, :, 3]
        rel = []
        for i in idx:
            r = ext[i, :, :3] @ ra.T
            rel.append(np.concatenate([r, sigma * (ext[i, :, 3] - r @ ta)[:, None]], axis=1))
        k_net = np.stack([self.transforms[i].intrinsics_to_net(self.seq.intrinsics[i]) for i in idx])
        enc = cameras_to_pose_encoding(torch.from_numpy(np.stack(rel)), torch.from_numpy(k_net), state.image_hw)
        self.calls.append(("cameras",))
        return CameraPrediction(pose_enc=enc[None].float(), pose_enc_iterations=enc[None, None].float())

    def decode(self, state, target_times=None, frames=None) -> DynamicPointMaps:
        times = tuple(range(state.frames)) if target_times is None else tuple(target_times)
        sel = tuple(range(state.frames)) if frames is None else tuple(frames)
        self.calls.append(("decode", times, sel))
        pts = np.stack([np.stack([self._points(state, t, f)[0] for f in sel]) for t in times])
        conf = np.stack([np.stack([self._points(state, t, f)[1] for f in sel]) for t in times])
        return DynamicPointMaps(torch.from_numpy(pts)[None], torch.from_numpy(conf)[None], times, sel)

    def time_variant(self, state, frames=None) -> PointMaps:
        sel = tuple(range(state.frames)) if frames is None else tuple(frames)
        self.calls.append(("time_variant", sel))
        pts = np.stack([self._points(state, f, f)[0] for f in sel])
        conf = np.stack([self._points(state, f, f)[1] for f in sel])
        return PointMaps(torch.from_numpy(pts)[None], torch.from_numpy(conf)[None], sel, torch.tensor([sel]))
