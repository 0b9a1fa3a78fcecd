"""Reading and strictly loading V-DPM checkpoints (official ``model.pt``, safetensors, our own).

Our own checkpoints are safetensors files whose metadata carries the architecture
(``vdpm_config``, JSON), so a model can be rebuilt from the file alone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .config import VDPMConfig
from .vdpm import VDPM

log = logging.getLogger(__name__)

#: VGGT heads that V-DPM does not have; the official loader drops them too.
IGNORED_PREFIXES = ("depth_head.", "track_head.")
#: Parameters a plain VGGT checkpoint lacks (V-DPM's additions).
VDPM_ONLY_PREFIXES = ("decoder.", "aggregator.time_conditioning_token")
CONFIG_METADATA_KEY = "vdpm_config"
#: Metadata key of our checkpoints: "true" when the model's decoder learned motion (its card meets the motion
#: bar), so ``motion_source: auto`` takes the network's own scene flow.
MOTION_METADATA_KEY = "motion_trained"
_SHOW = 5


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit the model; the message says which file and why."""


@dataclass
class LoadReport:
    path: str
    loaded: int
    ignored: list[str] = field(default_factory=list)
    untrained: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def decoder_untrained(self) -> bool:
        return bool(self.untrained)

    @property
    def motion_trained(self) -> bool:
        """Whether the decoder learned motion: our checkpoints say so in their metadata; a checkpoint without our
        metadata with a trained decoder is the official V-DPM release, whose decoder did."""
        if MOTION_METADATA_KEY in self.metadata:
            return self.metadata[MOTION_METADATA_KEY].strip().lower() == "true"
        return CONFIG_METADATA_KEY not in self.metadata and not self.untrained


def _first(keys: list[str]) -> str:
    head = ", ".join(keys[:_SHOW])
    return head + (f", ... ({len(keys)} in all)" if len(keys) > _SHOW else "")


def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors and metadata of a ``.safetensors`` file or a torch ``.pt/.pth/.bin`` state dict.

    torch files are read with ``weights_only=True`` (no code execution); a ``{"model": ...}`` or
    ``{"state_dict": ...}`` wrapper is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (give the path of model.pt or a .safetensors file)")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                metadata = dict(f.metadata() or {})
                return {k: f.get_tensor(k) for k in f.keys()}, metadata
        except Exception as exc:  # safetensors raises its own error types for corrupt headers
            raise CheckpointError(f"cannot read {path} as safetensors ({exc}); the file may be truncated or not a checkpoint") from exc
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise CheckpointError(
            f"cannot read {path} as a torch state dict ({type(exc).__name__}: {exc}); "
            "the file may be truncated (compare its size with the published one) or not a checkpoint"
        ) from exc
    for wrapper in ("model", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not contain a state dict of tensors")
    return obj, {}


def config_from_metadata(metadata: Mapping[str, str]) -> VDPMConfig | None:
    raw = metadata.get(CONFIG_METADATA_KEY)
    return VDPMConfig.from_dict(json.loads(raw)) if raw else None


def load_weights(
    model: VDPM,
    state_dict: Mapping[str, Tensor],
    source: str = "<state dict>",
    allow_untrained_decoder: bool = False,
    assign: bool = False,
) -> LoadReport:
    """Copy ``state_dict`` into ``model``; every model parameter must be present with its exact shape.

    Args:
        allow_untrained_decoder: accept a plain VGGT checkpoint, which lacks the decoder and the
            time-conditioning token; those keep their initial values and a warning says so.
        assign: make the model's parameters the given tensors instead of copying into them (no second
            copy of the weights in memory; the model may live on the meta device until then).
    Raises:
        CheckpointError naming the file and the first missing / unexpected / mis-shaped keys.
    """
    ignored = sorted(k for k in state_dict if k.startswith(IGNORED_PREFIXES))
    given = {k: v for k, v in state_dict.items() if not k.startswith(IGNORED_PREFIXES)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong_shape = sorted(
        f"{k} (file {tuple(given[k].shape)}, model {tuple(expected[k].shape)})"
        for k in set(given) & set(expected)
        if given[k].shape != expected[k].shape
    )
    untrained: list[str] = []
    if missing and not unexpected and all(k.startswith(VDPM_ONLY_PREFIXES) for k in missing):
        if not allow_untrained_decoder:
            raise CheckpointError(
                f"{source} looks like a plain VGGT checkpoint: it has no V-DPM decoder ({len(missing)} keys missing, "
                f"e.g. {_first(missing)}). Use the V-DPM weights (model.pt of edgarsucar/vdpm), or pass "
                "allow_untrained_decoder=True (CLI: --allow-vggt) to start fine-tuning from VGGT."
            )
        untrained, missing = missing, []
    problems = []
    if missing:
        problems.append(f"missing keys: {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_first(unexpected)}")
    if wrong_shape:
        problems.append(f"shape mismatches: {_first(wrong_shape)}")
    if problems:
        raise CheckpointError(
            f"{source} does not fit this V-DPM architecture ({'; '.join(problems)}). "
            "Check that the checkpoint and the model config (embed_dim, depths, heads) belong together."
        )
    model.load_state_dict(given, strict=not untrained, assign=assign)
    if untrained:
        log.warning(
            "%s is a VGGT checkpoint: the V-DPM decoder and time-conditioning token (%d tensors) are UNTRAINED; "
            "time-variant maps and cameras are meaningful, dynamic point maps are not until fine-tuned.",
            source,
            len(untrained),
        )
    return LoadReport(path=source, loaded=len(given), ignored=ignored, untrained=untrained)


def load_model(
    path: str | os.PathLike,
    config: VDPMConfig | None = None,
    device: str | torch.device = "cpu",
    allow_untrained_decoder: bool = False,
) -> tuple[VDPM, LoadReport]:
    """Build a model for ``path`` and load it, in eval mode.

    The architecture comes from ``config`` if given, else from the file's metadata (our checkpoints),
    else it is the official full-size one (``model.pt``).
    """
    state_dict, metadata = read_state_dict(path)
    config = config or config_from_metadata(metadata) or VDPMConfig.official()
    has_decoder = any(k.startswith("decoder.") for k in state_dict)
    if has_decoder or not allow_untrained_decoder:
        # Build without allocating and take the file's tensors as the parameters: no random
        # initialisation of 1.6 B parameters and no second copy of 6.6 GB in host memory.
        with torch.device("meta"):
            model = VDPM(config)
        report = load_weights(model, state_dict, str(path), allow_untrained_decoder, assign=True)
        model.aggregator.reset_buffers()
    else:
        model = VDPM(config)  # the decoder keeps its fresh initialisation
        report = load_weights(model, state_dict, str(path), allow_untrained_decoder)
    report.metadata = dict(metadata)
    model.motion_trained = report.motion_trained
    return model.to(device).eval(), report


def save_checkpoint(model: VDPM, path: str | os.PathLike, extra_metadata: Mapping[str, str] | None = None) -> None:
    """Write ``model`` as safetensors with its architecture in the metadata."""
    from safetensors.torch import save_file

    metadata = {CONFIG_METADATA_KEY: model.config.to_json(), **(extra_metadata or {})}
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
