"""Checkpoint reading and strict loading, with errors that name the file and the keys."""

from __future__ import annotations

import logging

import pytest
import torch

from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import CheckpointError, load_model, load_weights, save_checkpoint


@pytest.fixture()
def state_dict(tiny_model):
    return {k: v.clone() for k, v in tiny_model.state_dict().items()}


def _same_weights(a: VDPM, b: VDPM) -> bool:
    sb = b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())


def test_own_checkpoint_round_trip_carries_the_architecture(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    save_checkpoint(tiny_model, path)
    model, report = load_model(path)  # no config given: it comes from the metadata
    assert model.config == tiny_model.config
    assert report.loaded == len(tiny_model.state_dict())
    assert _same_weights(model, tiny_model)
    assert torch.equal(model.aggregator._resnet_std, tiny_model.aggregator._resnet_std)


def test_official_style_torch_state_dict_loads_and_ignores_vggt_heads(tmp_path, tiny_model, tiny_config, state_dict):
    state_dict["depth_head.scratch.output_conv1.weight"] = torch.zeros(3)
    state_dict["track_head.x"] = torch.zeros(1)
    path = tmp_path / "model.pt"
    torch.save(state_dict, path)
    model, report = load_model(path, tiny_config)
    assert report.ignored == ["depth_head.scratch.output_conv1.weight", "track_head.x"]
    assert _same_weights(model, tiny_model)


def test_wrapped_state_dict_is_unwrapped(tmp_path, tiny_config, state_dict):
    path = tmp_path / "ckpt.pth"
    torch.save({"model": state_dict, "epoch": 3}, path)
    assert load_model(path, tiny_config)[1].loaded == len(state_dict)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_truncated_file_names_the_file(tmp_path, tiny_model, suffix):
    good = tmp_path / f"good{suffix}"
    if suffix == ".pt":
        torch.save(tiny_model.state_dict(), good)
    else:
        save_checkpoint(tiny_model, good)
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(good.read_bytes()[:4000])
    with pytest.raises(CheckpointError, match=rf"bad{suffix}.*truncated"):
        load_model(bad, tiny_model.config)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope.pt")


def test_missing_and_unexpected_keys_are_listed(tiny_config, state_dict):
    state_dict.pop("point_head.norm.weight")
    state_dict["head.extra"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_weights(VDPM(tiny_config), state_dict, "weights.pt")
    text = str(err.value)
    assert "weights.pt" in text and "missing keys: point_head.norm.weight" in text and "unexpected keys: head.extra" in text


def test_shape_mismatch_is_listed(tiny_config, state_dict):
    state_dict["camera_head.embed_pose.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointError, match=r"camera_head.embed_pose.bias \(file \(7,\), model \(64,\)\)"):
        load_weights(VDPM(tiny_config), state_dict, "w.pt")


def test_plain_vggt_checkpoint_needs_opt_in_and_warns(tmp_path, tiny_model, tiny_config, state_dict, caplog):
    vggt = {k: v for k, v in state_dict.items() if not k.startswith(("decoder.", "aggregator.time_conditioning_token"))}
    path = tmp_path / "vggt.pt"
    torch.save(vggt, path)
    with pytest.raises(CheckpointError, match="plain VGGT checkpoint"):
        load_model(path, tiny_config)
    with caplog.at_level(logging.WARNING):
        model, report = load_model(path, tiny_config, allow_untrained_decoder=True)
    assert report.decoder_untrained and "UNTRAINED" in caplog.text
    assert torch.equal(model.aggregator.camera_token, tiny_model.aggregator.camera_token)
    assert all(torch.isfinite(p).all() for p in model.decoder.parameters())
