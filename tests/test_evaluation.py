"""Metrics and the synthetic evaluation, checked with oracle and corrupted predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vdpm_ros.cli.main import main
from vdpm_ros.evaluation.metrics import absolute_trajectory_error, depth_metrics, mask_iou
from vdpm_ros.evaluation.synthetic import METRICS, sequence_metrics, two_view_epe
from vdpm_ros.geometry.alignment import umeyama
from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import save_checkpoint
from vdpm_ros.synth import SceneConfig, generate_sequence
from vdpm_ros.synth.seeds import parse_seeds


@pytest.fixture(scope="module")
def seq():
    return generate_sequence(1003, SceneConfig(height=42, width=56, frames=4))


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.linalg.det(q))
    dst = 2.5 * src @ rot.T + np.array([1.0, -2.0, 0.5])
    sim = umeyama(src, dst)
    assert abs(sim.scale - 2.5) < 1e-9 and np.allclose(sim.rotation, rot) and np.allclose(sim.apply(src), dst)


def test_ate_is_zero_up_to_similarity_and_positive_otherwise(seq):
    gt = seq.extrinsics.astype(np.float64)
    scaled = gt.copy()
    scaled[:, :, 3] *= 3.0  # same trajectory at another scale
    assert absolute_trajectory_error(scaled, gt) < 1e-9
    noisy = gt.copy()
    noisy[:, :, 3] += np.random.default_rng(1).normal(scale=0.05, size=(len(gt), 3))
    assert absolute_trajectory_error(noisy, gt) > 1e-3


def test_depth_metrics_are_scale_invariant():
    gt = np.random.default_rng(2).uniform(1, 5, (2, 8, 8))
    valid = np.ones_like(gt, dtype=bool)
    assert depth_metrics(gt * 7.0, gt, valid) == pytest.approx((0.0, 1.0))
    abs_rel, delta = depth_metrics(gt * np.where(np.arange(8) < 4, 1.0, 1.5), gt, valid)
    assert abs_rel > 0.05 and delta < 1.0


def test_mask_iou():
    a = np.zeros((4, 4), bool)
    b = a.copy()
    a[:2], b[1:3] = True, True
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_oracle_prediction_scores_perfectly_and_beats_no_motion(seq):
    pred = seq.pointmaps.astype(np.float64) * 0.37  # the model's scale is arbitrary
    extr = seq.extrinsics.astype(np.float64).copy()
    extr[:, :, 3] *= 0.37
    result = sequence_metrics(pred, extr, seq)
    m, base = result["model"], result["no_motion"]
    assert m["tracking_epe"] < 1e-6 and m["depth_abs_rel"] < 1e-5 and m["ate"] < 1e-6
    assert m["depth_delta_1_25"] == 1.0
    assert seq.motion_mask.any()
    assert m["motion_mask_iou"] == 1.0 and base["motion_mask_iou"] == 0.0
    assert base["tracking_epe_dynamic"] > 0.01 > m["tracking_epe_dynamic"]


def test_motion_blind_prediction_equals_the_baseline(seq):
    S = seq.num_frames
    idx = np.arange(S)
    static = np.broadcast_to(seq.pointmaps[idx, idx][None], seq.pointmaps.shape).astype(np.float64)
    result = sequence_metrics(static, seq.extrinsics.astype(np.float64), seq)
    assert result["model"]["tracking_epe_dynamic"] == pytest.approx(result["no_motion"]["tracking_epe_dynamic"])
    assert result["model"]["motion_mask_iou"] == 0.0


def test_two_view_epe_oracle(seq):
    frames = [0, 2]
    pred = seq.pointmaps[np.ix_(frames, frames)] * 2.0
    epe, base = two_view_epe(pred, seq, frames)
    assert epe < 1e-6 and base > epe


def test_seed_parsing_refuses_training_seeds():
    assert parse_seeds("1000-1002,1010") == [1000, 1001, 1002, 1010]
    with pytest.raises(ValueError, match="training seeds"):
        parse_seeds("999999-1000001")


def test_seed_parsing_says_what_a_seed_list_looks_like():
    # "invalid literal for int() with base 10" told a user nothing.
    with pytest.raises(ValueError, match="expected a range like 1000-1019"):
        parse_seeds("abc")
    with pytest.raises(ValueError, match="is empty"):
        parse_seeds("1019-1000")


def test_eval_command_writes_every_metric(tmp_path, micro_config):
    torch.manual_seed(0)
    path = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), path)  # 42 pixels wide: the eval sequences are 28x42
    out = tmp_path / "eval.json"
    assert main(["eval", "--synthetic", "1000-1001", "--model", str(path), "--json", str(out), "--frames", "9"]) == 0
    data = json.loads(out.read_text())
    for key in METRICS:
        assert isinstance(data[key], float) and isinstance(data["no_motion"][key], float)
    assert data["seeds"] == [1000, 1001]


def test_depth_pixels_without_a_usable_prediction_count_as_failures():
    gt = np.full((1, 2, 4), 2.0)
    valid = np.ones_like(gt, bool)
    pred = gt.copy()
    pred[0, 0, :2] = [-1.0, np.nan]  # behind the camera, no estimate: a quarter of the pixels fail
    abs_rel, delta = depth_metrics(pred, gt, valid)
    assert abs_rel == pytest.approx(0.25, abs=1e-5) and delta == pytest.approx(0.75)
    assert depth_metrics(np.full_like(gt, np.nan), gt, valid) == (1.0, 0.0)


def test_a_16_bit_png_is_scaled_by_its_bit_depth_not_clipped():
    import io

    from PIL import Image

    from vdpm_ros.messages.image import compressed_to_rgb

    grey = np.arange(64, dtype=np.uint16).reshape(8, 8) * 64  # 12-bit data (max 4032) in 16-bit words
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="PNG")
    rgb = compressed_to_rgb("png", buf.getvalue())
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., 0], np.round(grey * (255.0 / 4095)).astype(np.uint8))
