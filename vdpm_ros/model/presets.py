"""Named architectures: the official full-size model and our small CPU model."""

from __future__ import annotations

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


PRESETS = {"official": VDPMConfig.official, "cpu_small": cpu_small}


def preset(name: str) -> VDPMConfig:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}") from None
