"""Engine selection: ``pytorch`` (a checkpoint), ``onnxruntime`` (an export directory), ``auto``.

:func:`load_engine` opens a given path with a given engine; :mod:`vdpm_ros.runtime.door` puts the one
public entry, ``resolve_model``, in front of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model.checkpoint import load_model
from .errors import EngineUnavailableError
from .onnxruntime_engine import OnnxRuntimeEngine

ENGINES = ("auto", "pytorch", "onnxruntime")


@dataclass(frozen=True)
class LoadedEngine:
    """Attributes:
    model: the streaming API (``encode``, ``cameras``, ``decode``, ...): a ``VDPM`` or an ``OnnxRuntimeEngine``.
    kind: ``pytorch`` or ``onnxruntime``.
    device: where it runs (``cpu``, ``cuda``, ``cuda:1``).
    description: one line for logs: what was loaded and how.
    decoder_untrained: a plain VGGT checkpoint was accepted; flow and motion masks are meaningless.
    source: the path that was loaded, or ``preset:<name>`` for random weights.
    notes: warnings for the log (the embedded default model's caveat, an untrained decoder, random weights).
    motion_trained: the decoder learned motion (the official weights, or our checkpoint whose metadata says
        so); ``motion_source: auto`` then uses the network's scene flow, else optical flow.
    """

    model: Any
    kind: str
    device: str
    description: str
    decoder_untrained: bool = False
    source: str = ""
    notes: tuple[str, ...] = ()
    motion_trained: bool = False


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when PyTorch sees a GPU, else ``cpu``; a CUDA device that is not there is an error."""
    import torch

    _check_device_name(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailableError(f"device {device!r} was asked for but this PyTorch sees no CUDA device; use cpu or auto")
    return device


def _check_device_name(device: str) -> None:
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")


def _ort_providers(device: str) -> list:
    """ONNX Runtime providers for a device name (``auto`` takes CUDA when the installed build has it)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "auto":
        device = "cuda" if "CUDAExecutionProvider" in available else "cpu"
    if device == "cpu":
        return ["CPUExecutionProvider"]
    device_id = int(device.split(":")[1]) if ":" in device else 0
    if "CUDAExecutionProvider" not in available:
        raise EngineUnavailableError(
            f"device {device!r} needs ONNX Runtime's CUDAExecutionProvider (pip install onnxruntime-gpu); this build has {available}"
        )
    return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]


def load_engine(
    path: str | Path,
    engine: str = "auto",
    device: str = "auto",
    providers: list | None = None,
    allow_untrained_decoder: bool = False,
) -> LoadedEngine:
    """The model at ``path`` behind the streaming API.

    ``auto`` uses ONNX Runtime for an export directory (it has a manifest.json) and PyTorch for a
    checkpoint file. ``providers`` overrides the ONNX Runtime providers chosen from ``device``.

    Raises:
        EngineUnavailableError: the engine, device or provider is missing here.
        ExportMismatchError / CheckpointError: the files are not what this version can load.
        FileNotFoundError, ValueError: a wrong path or argument.
        (:func:`~vdpm_ros.runtime.door.resolve_model` wraps all of these into ``ModelLoadError``.)
    """
    path = Path(path)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    _check_device_name(device)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: give a checkpoint file or a `vdpm export` directory")
    if engine == "auto":
        engine = "onnxruntime" if path.is_dir() else "pytorch"
    if engine == "onnxruntime":
        try:
            chosen = providers or _ort_providers(device)
        except ImportError as exc:
            raise EngineUnavailableError("onnxruntime is not installed: pip install onnxruntime (or onnxruntime-gpu)") from exc
        model = OnnxRuntimeEngine(path, providers=chosen)
        wanted = [p[0] if isinstance(p, tuple) else p for p in chosen][0]
        running = model.providers[0]
        if running != wanted:
            raise EngineUnavailableError(
                f"ONNX Runtime was asked for {wanted} but runs on {running}: its GPU libraries did not load "
                "(check that the CUDA and cuDNN versions match your onnxruntime-gpu), or ask for device cpu"
            )
        on = (device if device.startswith("cuda") else "cuda") if running == "CUDAExecutionProvider" else "cpu"
        h, w = model.image_hw
        return LoadedEngine(
            model,
            "onnxruntime",
            on,
            f"ONNX export {path} for {w}x{h} network inputs (ONNX Runtime, {running})",
            source=str(path),
            motion_trained=bool(model.motion_trained),
        )
    if path.is_dir():
        raise ValueError(f"{path} is a directory (an ONNX export?); the pytorch engine needs a checkpoint file")
    on = resolve_device(device)
    model, report = load_model(path, device=on, allow_untrained_decoder=allow_untrained_decoder)
    n = sum(p.numel() for p in model.parameters())
    return LoadedEngine(model, "pytorch", on, f"{path} ({n:,} parameters, PyTorch on {on})", report.decoder_untrained, source=str(path),
                        motion_trained=report.motion_trained)  # fmt: skip
