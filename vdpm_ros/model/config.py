"""Typed architecture configuration of V-DPM.

Every size of the network is a field here. ``VDPMConfig.official()`` is the full-size model whose
weights are published as ``model.pt`` (1,661,508,918 parameters); other sizes (the tiny reference
fixture, our embedded CPU model) use the same classes with smaller numbers, so one code path serves
them all.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class PatchEmbedConfig:
    """DINOv2 ViT with register tokens that turns each frame into patch tokens.

    Its width is ``VDPMConfig.embed_dim``; only depth and head count are free.
    """

    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    num_register_tokens: int = 4
    #: LayerScale init of the DINOv2 blocks (the gammas are loaded from the checkpoint anyway).
    init_values: float = 1.0
    #: Bicubic position-embedding resampling options, as DINOv2 was built by VGGT.
    interpolate_antialias: bool = True
    interpolate_offset: float = 0.0

    def __post_init__(self) -> None:
        _require(self.depth >= 1, f"patch_embed.depth must be >= 1, got {self.depth}")
        _require(self.num_heads >= 1, f"patch_embed.num_heads must be >= 1, got {self.num_heads}")
        _require(self.num_register_tokens >= 0, "patch_embed.num_register_tokens must be >= 0")


@dataclass(frozen=True)
class AggregatorConfig:
    """Alternating frame/global attention transformer (VGGT) with a time-conditioning token."""

    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    num_register_tokens: int = 4
    qk_norm: bool = True
    rope_freq: float = 100.0
    init_values: float = 0.01

    def __post_init__(self) -> None:
        _require(self.depth >= 1, f"aggregator.depth must be >= 1, got {self.depth}")
        _require(self.num_heads >= 1, f"aggregator.num_heads must be >= 1, got {self.num_heads}")
        _require(self.rope_freq > 0, "aggregator.rope_freq must be > 0 (the official model uses RoPE)")


@dataclass(frozen=True)
class DecoderConfig:
    """Time-conditioned decoder: adaLN-modulated frame/global blocks at width 2 * embed_dim."""

    depth: int = 4
    num_heads: int = 16
    mlp_ratio: float = 4.0
    qk_norm: bool = True
    rope_freq: float = 100.0
    init_values: float = 0.01

    def __post_init__(self) -> None:
        _require(self.depth >= 1, f"decoder.depth must be >= 1, got {self.depth}")
        _require(self.num_heads >= 1, f"decoder.num_heads must be >= 1, got {self.num_heads}")
        _require(self.rope_freq > 0, "decoder.rope_freq must be > 0 (the official model uses RoPE)")


@dataclass(frozen=True)
class PointHeadConfig:
    """DPT head producing xyz ("inv_log") and confidence ("expp1") per pixel."""

    features: int = 256
    out_channels: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    pos_embed: bool = True
    #: Frames pushed through the convolutional head at once (memory bound, not a result change).
    frames_chunk_size: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_channels", tuple(int(c) for c in self.out_channels))
        _require(len(self.out_channels) == 4, "point_head.out_channels needs exactly 4 entries")
        _require(self.features % 2 == 0, "point_head.features must be even")
        _require(self.frames_chunk_size >= 1, "point_head.frames_chunk_size must be >= 1")


@dataclass(frozen=True)
class CameraHeadConfig:
    """Iterative camera head on the last layer's camera tokens ("absT_quaR_FoV" encoding)."""

    trunk_depth: int = 4
    num_heads: int = 16
    mlp_ratio: float = 4.0
    init_values: float = 0.01
    num_iterations: int = 4
    trans_act: str = "linear"
    quat_act: str = "linear"
    fov_act: str = "relu"

    def __post_init__(self) -> None:
        _require(self.trunk_depth >= 1, "camera_head.trunk_depth must be >= 1")
        _require(self.num_iterations >= 1, "camera_head.num_iterations must be >= 1")
        for name in ("trans_act", "quat_act", "fov_act"):
            act = getattr(self, name)
            _require(act in ("linear", "relu", "exp", "inv_log"), f"camera_head.{name}: unknown activation {act!r}")


@dataclass(frozen=True)
class VDPMConfig:
    """Complete V-DPM architecture.

    ``intermediate_layer_idx`` are the aggregator layers that both the decoder and the DPT head read
    (the decoder's k-th output feeds the DPT's k-th input, so the two lists are one list here).
    """

    img_size: int = 518
    patch_size: int = 14
    embed_dim: int = 1024
    intermediate_layer_idx: tuple[int, int, int, int] = (4, 11, 17, 23)
    patch_embed: PatchEmbedConfig = field(default_factory=PatchEmbedConfig)
    aggregator: AggregatorConfig = field(default_factory=AggregatorConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    point_head: PointHeadConfig = field(default_factory=PointHeadConfig)
    camera_head: CameraHeadConfig = field(default_factory=CameraHeadConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "intermediate_layer_idx", tuple(int(i) for i in self.intermediate_layer_idx))
        _require(self.img_size % self.patch_size == 0, f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}")
        _require(len(self.intermediate_layer_idx) == 4, "intermediate_layer_idx needs exactly 4 layers (DPT has 4 stages)")
        depth = self.aggregator.depth
        for idx in self.intermediate_layer_idx:
            _require(0 <= idx < depth, f"intermediate layer {idx} outside the aggregator's {depth} layers")
        for name, heads, width in (
            ("patch_embed", self.patch_embed.num_heads, self.embed_dim),
            ("aggregator", self.aggregator.num_heads, self.embed_dim),
            ("decoder", self.decoder.num_heads, 2 * self.embed_dim),
            ("camera_head", self.camera_head.num_heads, 2 * self.embed_dim),
        ):
            _require(width % heads == 0, f"{name}: width {width} is not divisible by num_heads {heads}")
        for name, heads, width in (
            ("aggregator", self.aggregator.num_heads, self.embed_dim),
            ("decoder", self.decoder.num_heads, 2 * self.embed_dim),
        ):
            _require((width // heads) % 4 == 0, f"{name}: head dim {width // heads} must be divisible by 4 for 2D RoPE")
        _require(
            self.patch_embed.num_register_tokens == self.aggregator.num_register_tokens,
            "patch_embed and aggregator must use the same number of register tokens",
        )

    @property
    def num_special_tokens(self) -> int:
        """Tokens before the patches in every frame: camera, time-conditioning, registers."""
        return 2 + self.aggregator.num_register_tokens

    @classmethod
    def official(cls) -> VDPMConfig:
        """The published full-size V-DPM (VGGT-1B backbone + 4-block decoder)."""
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VDPMConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error so typos do not pass silently."""
        sub = {
            "patch_embed": PatchEmbedConfig,
            "aggregator": AggregatorConfig,
            "decoder": DecoderConfig,
            "point_head": PointHeadConfig,
            "camera_head": CameraHeadConfig,
        }
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown VDPMConfig keys: {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in sub:
                sub_cls = sub[key]
                sub_known = {f.name for f in dataclasses.fields(sub_cls)}
                bad = set(value) - sub_known
                if bad:
                    raise ValueError(f"unknown {key} config keys: {sorted(bad)}")
                kwargs[key] = sub_cls(**value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def from_fixture_json(cls, data: Mapping[str, Any]) -> VDPMConfig:
        """Build from a reference-fixture ``config.json`` (the layout of tests/fixtures/reference/tiny)."""
        try:
            m = data["model"]
            agg, pe, dec, ph, cam = m["aggregator"], m["aggregator.patch_embed"], m["decoder"], m["point_head"], m["camera_head"]
        except KeyError as exc:
            raise ValueError(f"fixture config.json lacks the section {exc}") from None
        # Settings this implementation hard-codes to the official values: refuse anything else
        # rather than silently computing something different.
        fixed = {
            "point_head.activation": (ph.get("activation", "inv_log"), "inv_log"),
            "point_head.conf_activation": (ph.get("conf_activation", "expp1"), "expp1"),
            "point_head.output_dim": (ph.get("output_dim", 4), 4),
            "point_head.down_ratio": (ph.get("down_ratio", 1), 1),
            "point_head.feature_only": (ph.get("feature_only", False), False),
            "camera_head.pose_encoding_type": (cam.get("pose_encoding_type", "absT_quaR_FoV"), "absT_quaR_FoV"),
            "aggregator.patch_embed.qk_norm": (pe.get("qk_norm", False), False),
            "aggregator.patch_embed.ffn_layer": (pe.get("ffn_layer", "mlp"), "mlp"),
        }
        for section in ("aggregator", "aggregator.patch_embed", "decoder"):
            for flag in ("qkv_bias", "proj_bias", "ffn_bias"):
                fixed[f"{section}.{flag}"] = (m[section].get(flag, True), True)
        unsupported = [f"{k}={got!r} (supported: {want!r})" for k, (got, want) in fixed.items() if got != want]
        if unsupported:
            raise ValueError(f"fixture uses settings this implementation does not support: {', '.join(unsupported)}")
        if dec["intermediate_layer_idx"] != ph["intermediate_layer_idx"]:
            raise ValueError("fixture uses different decoder and point-head layers; V-DPM feeds one into the other")
        if pe["embed_dim"] != m["embed_dim"] or dec["embed_dim"] != m["embed_dim"]:
            raise ValueError("fixture embed_dim differs between patch embed, aggregator and decoder")
        if agg.get("aa_order", ["frame", "global"]) != ["frame", "global"] or agg.get("aa_block_size", 1) != 1:
            raise ValueError("only aa_order ['frame', 'global'] with aa_block_size 1 (the official layout) is supported")
        return cls(
            img_size=m["img_size"],
            patch_size=m["patch_size"],
            embed_dim=m["embed_dim"],
            intermediate_layer_idx=tuple(dec["intermediate_layer_idx"]),
            patch_embed=PatchEmbedConfig(
                depth=pe["depth"],
                num_heads=pe["num_heads"],
                mlp_ratio=float(pe["mlp_ratio"]),
                num_register_tokens=pe["num_register_tokens"],
                init_values=float(pe["init_values"]),
                interpolate_antialias=bool(pe["interpolate_antialias"]),
                interpolate_offset=float(pe["interpolate_offset"]),
            ),
            aggregator=AggregatorConfig(
                depth=agg["depth"],
                num_heads=agg["num_heads"],
                mlp_ratio=float(agg["mlp_ratio"]),
                num_register_tokens=agg["num_register_tokens"],
                qk_norm=bool(agg["qk_norm"]),
                rope_freq=float(agg["rope_freq"]),
                init_values=float(agg["init_values"]),
            ),
            decoder=DecoderConfig(
                depth=dec["depth"],
                num_heads=dec["num_heads"],
                mlp_ratio=float(dec["mlp_ratio"]),
                qk_norm=bool(dec["qk_norm"]),
                rope_freq=float(dec["rope_freq"]),
                init_values=float(dec["init_values"]),
            ),
            point_head=PointHeadConfig(
                features=ph["features"],
                out_channels=tuple(ph["out_channels"]),
                pos_embed=bool(ph["pos_embed"]),
                frames_chunk_size=int(ph.get("frames_chunk_size", 8)),
            ),
            camera_head=CameraHeadConfig(
                trunk_depth=cam["trunk_depth"],
                num_heads=cam["num_heads"],
                mlp_ratio=float(cam["mlp_ratio"]),
                init_values=float(cam["init_values"]),
                num_iterations=int(cam.get("num_iterations", 4)),
                trans_act=cam["trans_act"],
                quat_act=cam["quat_act"],
                fov_act=cam["fl_act"],
            ),
        )
