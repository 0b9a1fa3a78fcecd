"""Config validation and serialisation."""

from __future__ import annotations

import pytest

from vdpm_ros.model import AggregatorConfig, DecoderConfig, VDPMConfig


def test_round_trip_through_dict():
    cfg = VDPMConfig(embed_dim=64, aggregator=AggregatorConfig(depth=6, num_heads=4), intermediate_layer_idx=(1, 2, 4, 5))
    assert VDPMConfig.from_dict(cfg.to_dict()) == cfg
    assert VDPMConfig.from_dict(VDPMConfig.official().to_dict()) == VDPMConfig.official()


def test_official_preset_sizes():
    cfg = VDPMConfig.official()
    assert (cfg.embed_dim, cfg.aggregator.depth, cfg.decoder.depth, cfg.intermediate_layer_idx) == (1024, 24, 4, (4, 11, 17, 23))
    assert cfg.num_special_tokens == 6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"intermediate_layer_idx": (4, 11, 17, 24)}, "outside"),
        ({"embed_dim": 1000}, "divisible"),
        ({"img_size": 520}, "multiple of patch_size"),
        ({"decoder": DecoderConfig(num_heads=3)}, "divisible"),
        ({"embed_dim": 96, "aggregator": AggregatorConfig(num_heads=16)}, "RoPE"),
    ],
)
def test_inconsistent_sizes_fail_fast(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VDPMConfig(**kwargs)


def test_unknown_keys_are_rejected():
    data = VDPMConfig.official().to_dict()
    data["decoder"]["depht"] = 3
    with pytest.raises(ValueError, match="depht"):
        VDPMConfig.from_dict(data)


def test_fixture_config_with_unsupported_settings_is_refused(reference_dir):
    import json

    data = json.loads((reference_dir / "tiny" / "config.json").read_text())
    assert VDPMConfig.from_fixture_json(data).embed_dim == 32
    data["model"]["point_head"]["activation"] = "exp"
    data["model"]["decoder"]["qkv_bias"] = False
    with pytest.raises(ValueError, match=r"point_head.activation='exp'.*decoder.qkv_bias=False"):
        VDPMConfig.from_fixture_json(data)
    with pytest.raises(ValueError, match="lacks the section"):
        VDPMConfig.from_fixture_json({"model": {}})
