"""The one door to a model: ``resolve_model(spec, engine, device)`` for the node, every command and the harnesses.

A spec is a checkpoint file (official ``model.pt``, our ``.safetensors``), a ``vdpm export`` directory, a
preset name with random weights (``cpu_small`` or ``preset:cpu_small``, for benchmarks; a file of that name
wins), or empty for the embedded default model. Whatever goes wrong comes out as :class:`~vdpm_ros.runtime.errors.ModelLoadError` with a message
that names the file and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import paths
from ..export.manifest import MANIFEST_NAME, ExportMismatchError
from ..model import VDPM
from ..model.checkpoint import CheckpointError
from ..model.presets import PRESETS, preset
from ..settings import check_settings, setting
from .engine import ENGINES, LoadedEngine, load_engine, resolve_device
from .errors import ModelLoadError

PRESET_PREFIX = "preset:"
_MODEL_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


@dataclass(frozen=True)
class ModelSettings:
    """Which model runs, on which engine and device (node parameters of the same names)."""

    model_path: str = setting(
        "", "checkpoint (.safetensors or official model.pt) or an ONNX export directory (vdpm export); empty = the embedded default model"
    )
    engine: str = setting("auto", "auto (ONNX Runtime for an export directory, else PyTorch), pytorch or onnxruntime", choices=ENGINES)
    device: str = setting("auto", "auto (cuda if available), cpu, cuda, cuda:N")
    allow_vggt: bool = setting(False, "accept a plain VGGT checkpoint (decoder untrained: flow and masks are meaningless)")

    def __post_init__(self) -> None:
        check_settings(self)
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"ModelSettings.device must be auto, cpu, cuda or cuda:N, got {self.device!r}")

    def resolve(self) -> LoadedEngine:
        """The model these settings name; a ModelLoadError says which settings were given."""
        try:
            return resolve_model(self.model_path, self.engine, self.device, self.allow_vggt)
        except ModelLoadError as exc:
            given = f"model_path={self.model_path or '(embedded default)'!r}, engine={self.engine!r}, device={self.device!r}"
            raise ModelLoadError(f"{given}: {exc}") from exc


def resolve_model(
    spec: str | Path | None, engine: str = "auto", device: str = "auto", allow_vggt: bool = False, seed: int = 0
) -> LoadedEngine:
    """Load the model named by ``spec`` behind the streaming API.

    Args:
        spec: a checkpoint file, an export directory, ``preset:<name>`` (random weights) or None/"" for the
            embedded default model.
        engine: auto, pytorch or onnxruntime.
        device: auto, cpu, cuda, cuda:N.
        allow_vggt: accept a plain VGGT checkpoint (its decoder is untrained).
        seed: the random weights of a preset.

    Raises:
        ModelLoadError: anything that stops the model from loading, with the file and what to do.
    """
    text = str(spec) if spec else ""
    if text.startswith(PRESET_PREFIX):
        return _random_weights(text[len(PRESET_PREFIX) :], device, seed)
    if text in PRESETS and not Path(text).exists():
        return _random_weights(text, device, seed)
    notes: list[str] = []
    if not text:
        path = paths.default_model_path()
        if path is None:
            raise ModelLoadError(
                "no model given and no embedded default model found (models/vdpm_default.safetensors): "
                "give a checkpoint (.safetensors or the official model.pt) or a `vdpm export` directory"
            )
        notes.append(paths.default_model_caveat(path))
    else:
        path = Path(text).expanduser()
        _check_path(path)
    try:
        loaded = load_engine(path, engine, device, allow_untrained_decoder=allow_vggt)
    except (CheckpointError, ExportMismatchError, ModelLoadError) as exc:
        raise ModelLoadError(str(exc)) from exc
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc
    if loaded.decoder_untrained:
        notes.append("VGGT checkpoint: the decoder is untrained, scene flow and motion masks are meaningless")
    return LoadedEngine(**{**loaded.__dict__, "notes": tuple(notes)})


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(f"model {path} does not exist: give a checkpoint file (.safetensors, .pt) or a `vdpm export` directory")
    if path.is_dir() and not (path / MANIFEST_NAME).is_file():
        inside = sorted(p.name for p in path.iterdir() if p.suffix in _MODEL_SUFFIXES)
        hint = f"; it holds {', '.join(inside)}: give one of those files" if inside else ""
        raise ModelLoadError(f"model {path} is a directory but not a `vdpm export` (it has no {MANIFEST_NAME}){hint}")


def _random_weights(name: str, device: str, seed: int = 0) -> LoadedEngine:
    if name not in PRESETS:
        raise ModelLoadError(f"unknown model preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    on = resolve_device(device)
    torch.manual_seed(seed)  # the same random model every time, so benchmarks compare like with like
    model = VDPM(preset(name)).eval().to(on)
    model.motion_trained = False  # random weights learned nothing: motion_source auto takes the flow source
    note = f"preset {name} has RANDOM weights: its outputs are meaningless (for timing only)"
    return LoadedEngine(model, "pytorch", on, f"preset {name}: random weights (untrained), seed {seed}, PyTorch on {on}", source=PRESET_PREFIX + name,
                        notes=(note,))  # fmt: skip
