"""``vdpm conformance`` on the shared fixture and on fixtures of other sizes made here."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vdpm_ros.cli.main import main
from vdpm_ros.geometry import pose_encoding_to_cameras
from vdpm_ros.model import VDPM, AggregatorConfig, CameraHeadConfig, DecoderConfig, PatchEmbedConfig, PointHeadConfig, VDPMConfig
from vdpm_ros.model.checkpoint import save_checkpoint


def _write_fixture(path, config: VDPMConfig, images: np.ndarray, cond: list[int], seed: int) -> VDPM:
    """A fixture directory in the shared layout (config.json, weights.safetensors, inputs.npz)."""
    torch.manual_seed(seed)
    model = VDPM(config).eval()
    path.mkdir(parents=True)
    save_checkpoint(model, path / "weights.safetensors")
    layers = list(config.intermediate_layer_idx)
    fixture = {
        "model": {
            "img_size": config.img_size,
            "patch_size": config.patch_size,
            "embed_dim": config.embed_dim,
            "aggregator": {**vars(config.aggregator), "aa_order": ["frame", "global"], "aa_block_size": 1},
            "aggregator.patch_embed": {**vars(config.patch_embed), "embed_dim": config.embed_dim},
            "decoder": {**vars(config.decoder), "embed_dim": config.embed_dim, "intermediate_layer_idx": layers},
            "point_head": {
                **vars(config.point_head),
                "out_channels": list(config.point_head.out_channels),
                "intermediate_layer_idx": layers,
            },
            "camera_head": {**{k: v for k, v in vars(config.camera_head).items() if k != "fov_act"}, "fl_act": config.camera_head.fov_act},
        }
    }
    (path / "config.json").write_text(json.dumps(fixture))
    np.savez(path / "inputs.npz", images=images, forward_cond_view_idxs=np.array([cond], dtype=np.int64))
    return model


@pytest.fixture(scope="module")
def other_fixture(tmp_path_factory):
    config = VDPMConfig(
        embed_dim=16,
        intermediate_layer_idx=(0, 1, 2, 3),
        patch_embed=PatchEmbedConfig(depth=1, num_heads=2, num_register_tokens=2),
        aggregator=AggregatorConfig(depth=4, num_heads=2, num_register_tokens=2),
        decoder=DecoderConfig(depth=1, num_heads=2),
        point_head=PointHeadConfig(features=8, out_channels=(4, 8, 16, 16)),
        camera_head=CameraHeadConfig(trunk_depth=2, num_heads=2, num_iterations=3),
    )
    images = np.random.default_rng(7).random((1, 4, 3, 42, 70), dtype=np.float32)
    path = tmp_path_factory.mktemp("fx") / "other"
    model = _write_fixture(path, config, images, [3, 0, 1, 1], seed=11)
    return path, model, torch.from_numpy(images)


def test_shared_fixture_passes(reference_dir, tmp_path, capsys):
    out = tmp_path / "out.npz"
    assert main(["conformance", str(reference_dir / "tiny"), "--out", str(out)]) == 0
    assert "16/16 reference arrays reproduced" in capsys.readouterr().out
    with np.load(out) as got, np.load(reference_dir / "tiny" / "outputs.npz") as ref:
        assert set(ref.files) <= set(got.files)


def test_mismatch_exits_nonzero(reference_dir, tmp_path, capsys):
    fixture = tmp_path / "tiny"
    shutil.copytree(reference_dir / "tiny", fixture)
    with np.load(fixture / "inputs.npz") as d:
        np.savez(fixture / "inputs.npz", images=d["images"][..., ::-1].copy(), forward_cond_view_idxs=d["forward_cond_view_idxs"])
    assert main(["conformance", str(fixture), "--out", str(tmp_path / "o.npz")]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_other_layout_matches_an_official_style_loop(other_fixture, tmp_path):
    """Other S, H, W, depths, register count: outputs equal a one-time-at-a-time loop like inference()."""
    path, model, images = other_fixture
    out = tmp_path / "o.npz"
    assert main(["conformance", str(path), "--out", str(out)]) == 0
    got = dict(np.load(out))
    S = images.shape[1]
    with torch.no_grad():
        state = model.encode(images)
        for j in range(S):
            maps = model.decode_per_frame(state, torch.full((1, S), j))
            np.testing.assert_allclose(got[f"pointmaps_t{j}_pts3d"], maps.pts3d.numpy(), atol=1e-5, rtol=1e-5)
            np.testing.assert_allclose(got[f"pointmaps_t{j}_conf"], maps.conf.numpy(), atol=1e-5, rtol=1e-5)
        cams = model.cameras(state)
    assert got["aggregator_tokens"].shape == (4, 1, S, 2 + 2 + 3 * 5, 32)
    assert got["pose_enc_list"].shape == (3, 1, S, 9)
    extr, intr = pose_encoding_to_cameras(cams.pose_enc, (42, 70))
    np.testing.assert_allclose(got["extrinsics"], extr.numpy(), atol=1e-6)
    np.testing.assert_allclose(got["intrinsics"], intr.numpy(), atol=1e-4)
    assert got["forward_dynamic_pts3d"].shape == (1, S, 42, 70, 3)


def test_missing_fixture_is_one_clear_line(tmp_path, capsys):
    # A directory that is not there is named as such, not as one that "has no config.json".
    assert main(["conformance", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "nowhere does not exist" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert main(["conformance", str(tmp_path / "empty"), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "has no config.json" in err and "Traceback" not in err
