"""ONNX Runtime engine for a ``vdpm export`` directory, with the same streaming API as :class:`VDPM`.

Tensors go in and come out as torch CPU tensors; on a GPU provider the encoder's outputs would stay on
the device between the two graphs with IO binding (not implemented in this version).

fp16/bf16 exports keep float32 inputs and outputs, so they run through the same calls. Whether their
low-precision kernels exist depends on the provider: ONNX Runtime's CPU provider runs the fp16 graphs
but has no bfloat16 MatMul, so a bf16 export needs the CUDA provider (or TensorRT); a missing kernel is
reported by :class:`EngineUnavailableError` naming the operator. A damaged export (garbage graph file,
missing or truncated weight file) is a :class:`CorruptExportError` naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..export.graphs import DECODER_INPUTS, ENCODER_INPUTS
from ..export.manifest import CorruptExportError, ExportManifest, ExportMismatchError
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


SUPPORTED_DTYPES = ("fp32", "fp16", "bf16")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_session(ort, path: Path, name: str, dtype: str, providers: list, session_config: dict[str, str] | None = None):
    """An InferenceSession for one graph, with ONNX Runtime's load errors turned into ours.

    A missing kernel (no fp16/bf16 implementation on this provider) is an :class:`EngineUnavailableError`;
    anything else that stops the file from loading means the file is not what ``vdpm export`` wrote.
    """
    options = ort.SessionOptions()
    for key, value in (session_config or {}).items():
        options.add_session_config_entry(key, value)
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own pybind classes (Fail, InvalidProtobuf, NotImplemented, ...)
        kind = type(exc).__name__
        message = _first_line(exc)
        wanted = [p[0] if isinstance(p, tuple) else p for p in providers]
        if kind in ("NotImplemented", "EPFail") or "NOT_IMPLEMENTED" in message:
            hint = (
                "ONNX Runtime's CPU provider has no bfloat16 kernels for these operators: run bf16 exports with the "
                "CUDA provider (onnxruntime-gpu, device cuda) or TensorRT, or export fp16/fp32 for the CPU"
                if dtype == "bf16" else "export fp32 for this provider, or use one that has the kernel"
            )  # fmt: skip
            raise EngineUnavailableError(
                f"{path}: ONNX Runtime {ort.__version__} on {wanted} cannot run this {dtype} {name} graph ({message}); {hint}"
            ) from None
        raise CorruptExportError(
            f"{path}: ONNX Runtime cannot load the {name} graph ({kind}: {message}); the file or its weight file is "
            "damaged or not written by `vdpm export`: re-export"
        ) from None


#: Session settings for a one-off run of a large export (``vdpm export --check``): without pre-packing,
#: ONNX Runtime's CPU provider computes from the memory-mapped external weights instead of keeping a
#: second, re-laid-out copy in its own memory. Measured on the full-size fp32 export (2-core CPU, ORT 1.32):
#: after a 3-frame run 1.5 GiB anonymous memory plus 5.4 GiB of the weight files in the page cache
#: (reclaimable), against 6.7 GiB anonymous with pre-packing; the run took 14 s instead of 8 s.
LOW_MEMORY_SESSION = {"session.disable_prepacking": "1"}


class OnnxRuntimeEngine:
    """Args:
    export_dir: a ``vdpm export`` directory.
    providers: ONNX Runtime execution providers (names or ``(name, options)``), CPU by default.
    session_config: extra session config entries, e.g. :data:`LOW_MEMORY_SESSION`.
    """

    def __init__(self, export_dir: str | Path, providers: list | None = None, session_config: dict[str, str] | None = None) -> None:
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
        if self.manifest.dtype not in SUPPORTED_DTYPES or self.manifest.io_dtype != "fp32":
            raise ExportMismatchError(
                f"{export_dir}: export dtype {self.manifest.dtype} with {self.manifest.io_dtype} inputs/outputs; this runtime "
                f"runs {', '.join(SUPPORTED_DTYPES)} graphs with fp32 inputs/outputs: re-export"
            )
        d = Path(export_dir)
        self.encoder = _open_session(ort, d / self.manifest.files["encoder"], "encoder", self.manifest.dtype, providers, session_config)
        self.decoder = _open_session(ort, d / self.manifest.files["decoder"], "decoder", self.manifest.dtype, providers, session_config)
        for name, session, expected in (("encoder", self.encoder, ENCODER_INPUTS), ("decoder", self.decoder, DECODER_INPUTS)):
            got = tuple(i.name for i in session.get_inputs())
            if got != expected:
                raise ExportMismatchError(f"{d}/{name}: graph inputs {got} differ from what this runtime feeds {expected}: re-export")
        self.image_hw = tuple(self.manifest.image_hw)
        #: As the exported checkpoint said (see VDPM.motion_trained); None for an export that does not say.
        self.motion_trained = self.manifest.motion_trained
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

    def graph_outputs(self, images: np.ndarray, cond_times: np.ndarray, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of both graphs for one window (encoder on ``images [S, 3, H, W]``, then the decoder
        on its state with ``cond_times [Q, S]`` and ``frames [F]``): what a parity check compares."""
        enc = dict(zip((o.name for o in self.encoder.get_outputs()), self.encoder.run(None, {"images": images.astype(np.float32)})))
        feeds = {"layer_tokens": enc["layer_tokens"], "time_tokens": enc["time_tokens"],
                 "cond_times": cond_times.astype(np.int64), "frames": frames.astype(np.int64)}  # fmt: skip
        dec = dict(zip((o.name for o in self.decoder.get_outputs()), self.decoder.run(None, feeds)))
        return {**{f"encoder.{k}": v for k, v in enc.items()}, **{f"decoder.{k}": v for k, v in dec.items()}}

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

    def decode(
        self, state: OrtWindowState, target_times: Sequence[int] | None = None, frames: Sequence[int] | None = None
    ) -> DynamicPointMaps:
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
