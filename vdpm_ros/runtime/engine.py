"""Engine selection: ``pytorch`` (a checkpoint), ``onnxruntime`` (an export directory), ``auto``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ENGINES = ("auto", "pytorch", "onnxruntime")


class EngineUnavailableError(RuntimeError):
    """The requested engine or execution provider is not installed or cannot run here."""


def load_engine(path: str | Path, engine: str = "auto", device: str = "cpu", providers: list[str] | None = None) -> Any:
    """An object with the VDPM streaming API for ``path``.

    ``auto`` uses ONNX Runtime for an export directory (it has a manifest.json) and PyTorch for a checkpoint file.
    """
    path = Path(path)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "auto":
        engine = "onnxruntime" if path.is_dir() else "pytorch"
    if engine == "onnxruntime":
        from .onnxruntime_engine import OnnxRuntimeEngine

        return OnnxRuntimeEngine(path, providers=providers)
    if path.is_dir():
        raise ValueError(f"{path} is a directory (an ONNX export?); the pytorch engine needs a checkpoint file")
    from ..model.checkpoint import load_model

    return load_model(path, device=device)[0]
