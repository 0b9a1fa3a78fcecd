"""ONNX Runtime engine for a ``vdpm export`` directory, with the same streaming API as :class:`VDPM`.

Tensors go in and come out as torch CPU tensors; on a GPU provider the encoder's outputs would stay on
the device between the two graphs with IO binding (not implemented in this version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..export.graphs import DECODER_INPUTS, ENCODER_INPUTS
from ..export.manifest import ExportManifest, ExportMismatchError
from ..model import CameraPrediction, DynamicPointMaps, PointMaps, VDPMConfig
from ..model.vdpm import check_frame_times, frame_indices
from .errors import EngineUnavailableError


@dataclass
class OrtWindowState:
    """What one encoder run produced (numpy arrays as ONNX Runtime returns them)."""

    layer_tokens: np.ndarray  # [4, S, P, 2C]
    time_tokens: np.ndarray  # [S, 2C]
    pose_enc_iterations: np.ndarray  # [K, S, 9]
    time_variant_pts3d: np.ndarray  # [S, H, W, 3]
    time_variant_conf: np.ndarray  # [S, H, W]
    image_hw: tuple[int, int]

    @property
    def frames(self) -> int:
        return self.layer_tokens.shape[1]

    batch = 1


class OnnxRuntimeEngine:
    def __init__(self, export_dir: str | Path, providers: list | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EngineUnavailableError("onnxruntime is not installed: pip install onnxruntime (or onnxruntime-gpu)") from exc
        self.manifest = ExportManifest.read(export_dir)
        self.config = VDPMConfig.from_dict(self.manifest.model_config)
        available = ort.get_available_providers()
        providers = providers or ["CPUExecutionProvider"]
        # A provider is a name or (name, options), as ONNX Runtime takes them.
        missing = [name for name in (p[0] if isinstance(p, tuple) else p for p in providers) if name not in available]
        if missing:
            raise EngineUnavailableError(f"ONNX Runtime execution provider(s) {missing} unavailable here; available: {available}")
        if self.manifest.dtype != "fp32":
            raise ExportMismatchError(f"export dtype {self.manifest.dtype} is not supported by this runtime (fp32 only)")
        d = Path(export_dir)
        self.encoder = ort.InferenceSession(str(d / self.manifest.files["encoder"]), providers=providers)
        self.decoder = ort.InferenceSession(str(d / self.manifest.files["decoder"]), providers=providers)
        for name, session, expected in (("encoder", self.encoder, ENCODER_INPUTS), ("decoder", self.decoder, DECODER_INPUTS)):
            got = tuple(i.name for i in session.get_inputs())
            if got != expected:
                raise ExportMismatchError(f"{d}/{name}: graph inputs {got} differ from what this runtime feeds {expected}: re-export")
        self.image_hw = tuple(self.manifest.image_hw)
        #: What the sessions really run on: ONNX Runtime falls back to the CPU when a listed GPU provider
        #: cannot load its libraries (a CUDA or cuDNN mismatch), with only a warning.
        self.providers = tuple(self.encoder.get_providers())

    @property
    def num_special_tokens(self) -> int:
        return self.config.num_special_tokens

    def encode(self, images: Tensor) -> OrtWindowState:
        if images.ndim == 5:
            if images.shape[0] != 1:
                raise ValueError("the ONNX export runs one window at a time (batch 1)")
            images = images[0]
        if tuple(images.shape[-2:]) != self.image_hw:
            raise ExportMismatchError(
                f"images are {images.shape[-2]}x{images.shape[-1]} but the export was made for {self.image_hw[0]}x{self.image_hw[1]}; "
                f"re-export with --height {images.shape[-2]} --width {images.shape[-1]}"
            )
        outs = self.encoder.run(None, {"images": images.detach().float().cpu().numpy()})
        names = [o.name for o in self.encoder.get_outputs()]
        o = dict(zip(names, outs))
        return OrtWindowState(
            o["layer_tokens"], o["time_tokens"], o["pose_enc_iterations"], o["time_variant_pts3d"], o["time_variant_conf"], self.image_hw
        )

    def cameras(self, state: OrtWindowState) -> CameraPrediction:
        iterations = torch.from_numpy(state.pose_enc_iterations)[:, None]
        return CameraPrediction(pose_enc=iterations[-1], pose_enc_iterations=iterations)

    def time_variant(self, state: OrtWindowState, frames: Sequence[int] | None = None) -> PointMaps:
        sel = frame_indices(frames, state.frames, "frames")
        pts = torch.from_numpy(state.time_variant_pts3d[list(sel)])[None]
        conf = torch.from_numpy(state.time_variant_conf[list(sel)])[None]
        return PointMaps(pts3d=pts, conf=conf, frames=sel, times=torch.tensor(sel)[None])

    def _run_decoder(self, state: OrtWindowState, cond: np.ndarray, frames: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        feeds = {
            "layer_tokens": state.layer_tokens,
            "time_tokens": state.time_tokens,
            "cond_times": cond.astype(np.int64),
            "frames": np.asarray(frames, dtype=np.int64),
        }
        return tuple(self.decoder.run(None, feeds))

    def decode(self, state: OrtWindowState, target_times: Sequence[int] | None = None, frames: Sequence[int] | None = None) -> DynamicPointMaps:
        times = frame_indices(target_times, state.frames, "target_times")
        sel = frame_indices(frames, state.frames, "frames")
        cond = np.repeat(np.asarray(times)[:, None], state.frames, axis=1)
        pts, conf = self._run_decoder(state, cond, sel)
        return DynamicPointMaps(pts3d=torch.from_numpy(pts)[None], conf=torch.from_numpy(conf)[None], target_times=times, frames=sel)

    def decode_per_frame(self, state: OrtWindowState, frame_times: Tensor) -> PointMaps:
        check_frame_times(frame_times, state.batch, state.frames)
        ft = np.asarray(frame_times).reshape(-1)
        sel = tuple(range(state.frames))
        pts, conf = self._run_decoder(state, ft[None], sel)
        return PointMaps(pts3d=torch.from_numpy(pts), conf=torch.from_numpy(conf), frames=sel, times=torch.from_numpy(ft)[None])
