"""Named architectures: the official full-size model and our small CPU model."""

from __future__ import annotations

import dataclasses

from .config import AggregatorConfig, CameraHeadConfig, DecoderConfig, PatchEmbedConfig, PointHeadConfig, VDPMConfig


def cpu_small() -> VDPMConfig:
    """The embedded default model's architecture: 2.47 M parameters (9.9 MB in float32), native input 224 wide.

    Sized for the 2-core CPU target of 2 windows/s (5 frames, latest-frame outputs): a random-weight
    instance took 289 ms per 5-frame 224x168 window on the project's 2-core CPU (encode + cameras +
    2 target times + time-variant map of the latest frame, 4th of 4 runs, torch 2.13 CPU, 2 threads).
    """
    return VDPMConfig(
        img_size=224,
        embed_dim=64,
        intermediate_layer_idx=(1, 3, 5, 7),
        patch_embed=PatchEmbedConfig(depth=2, num_heads=4),
        aggregator=AggregatorConfig(depth=8, num_heads=4),
        decoder=DecoderConfig(depth=2, num_heads=4),
        point_head=PointHeadConfig(features=32, out_channels=(16, 32, 64, 64)),
        camera_head=CameraHeadConfig(trunk_depth=1, num_heads=4),
    )


def cpu_tiny() -> VDPMConfig:
    """cpu_small's layers at half the input width (112): about 4x fewer tokens, for CPU training and the demo model.

    The aggregator starts with LayerScale 1.0 instead of the official 0.01: from scratch, a near-identity
    start leaves every frame's time token almost the same, and the decoder then has no way to tell target
    times apart (observed: a cpu_small run ignored the target time for its first 475 steps). Only the
    initial values differ; the architecture and parameter names are the official ones.
    """
    return dataclasses.replace(cpu_small(), img_size=112, aggregator=AggregatorConfig(depth=8, num_heads=4, init_values=1.0))


PRESETS = {"official": VDPMConfig.official, "cpu_small": cpu_small, "cpu_tiny": cpu_tiny}


def preset(name: str) -> VDPMConfig:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}") from None
