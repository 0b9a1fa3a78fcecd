"""Training objective, on-the-fly data and the resumable trainer (tiny sizes, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vdpm_ros.model import VDPM, VDPMConfig
from vdpm_ros.model.checkpoint import load_model
from vdpm_ros.synth import SceneConfig, generate_sequence
from vdpm_ros.train.data import batch_stream, example_from_sequence, make_batch
from vdpm_ros.train.loss import LossConfig, camera_loss, confidence_regression, dpm_loss, motion_regression, time_token_shortfall
from vdpm_ros.train.trainer import TrainConfig, train

SCENE = SceneConfig(height=28, width=42, frames=3)


def test_regression_loss_is_zero_for_exact_points_with_unit_confidence():
    gt = torch.randn(2, 3, 4, 5, 3)
    valid = torch.ones(2, 3, 4, 5, dtype=torch.bool)
    assert torch.all(confidence_regression(gt, torch.ones(2, 3, 4, 5), gt, valid, 0.2) == 0)


def test_regression_loss_averages_within_each_example_first():
    """A scene with many valid pixels must not outweigh one with few."""
    gt = torch.zeros(2, 1, 10, 10, 3)
    pred = gt.clone()
    pred[0, ..., 0] = 1.0  # error 1 everywhere in example 0
    pred[1, ..., 0] = 3.0  # error 3 everywhere in example 1
    valid = torch.zeros(2, 1, 10, 10, dtype=torch.bool)
    valid[0, 0, :1, :2] = True  # 2 valid pixels
    valid[1] = True  # 100 valid pixels
    per_example = confidence_regression(pred, torch.ones(2, 1, 10, 10), gt, valid, 0.0)
    torch.testing.assert_close(per_example, torch.tensor([1.0, 3.0]))


def test_confidence_trades_error_against_log_term():
    gt, pred = torch.zeros(1, 1, 1, 1, 3), torch.zeros(1, 1, 1, 1, 3)
    pred[..., 0] = 0.5
    valid = torch.ones(1, 1, 1, 1, dtype=torch.bool)
    confs = torch.linspace(1.0, 2.0, 101)
    losses = torch.stack([confidence_regression(pred, c.view(1, 1, 1, 1), gt, valid, 0.2)[0] for c in confs])
    # d/dC (0.5 C - 0.2 log C) = 0 at C = 0.4 < 1: the optimum on C >= 1 is C = 1
    assert int(losses.argmin()) == 0


def test_motion_term_scores_the_predicted_displacement_and_weighs_moving_pixels():
    gt_tv = torch.randn(1, 2, 10, 10, 3, generator=torch.Generator().manual_seed(0))
    gt_dyn = gt_tv.clone()
    gt_dyn[0, 1, :1, :1] += torch.tensor([0.5, 0.0, 0.0])  # 1 moving pixel of 200
    valid = torch.ones(1, 2, 10, 10, dtype=torch.bool)
    # a common offset on both maps leaves the displacement right: no motion error
    assert motion_regression(gt_dyn + 3.0, gt_tv + 3.0, gt_dyn, gt_tv, valid, 1e-3)[0] < 1e-5  # float rounding only
    # ignoring time (dynamic == time-variant) costs the full motion on the moving pixel
    ignored = motion_regression(gt_tv, gt_tv, gt_dyn, gt_tv, valid, 1e-3)[0]
    torch.testing.assert_close(ignored, torch.tensor(0.5 / 200 + 0.5))
    # invalid pixels never count
    valid[0, 1, 0, 0] = False
    assert motion_regression(gt_tv, gt_tv, gt_dyn, gt_tv, valid, 1e-3)[0] == 0


def test_time_token_term_pushes_nearly_identical_tokens_apart_and_then_lets_go():
    g = torch.Generator().manual_seed(0)
    shared = 50.0 * torch.randn(1, 1, 16, generator=g)
    tokens = (shared + 1e-2 * torch.randn(2, 5, 16, generator=g)).requires_grad_(True)
    loss = time_token_shortfall(tokens)
    assert loss > 5  # log(0.05) - log(~1e-8)
    loss.backward()
    # a step against the gradient makes the frames' tokens differ more
    moved = tokens.detach() - 1e-3 * tokens.grad / tokens.grad.abs().max()
    spread = lambda t: (t - t.mean(1, keepdim=True)).norm()  # noqa: E731
    assert spread(moved) > spread(tokens.detach())
    assert time_token_shortfall(torch.randn(2, 5, 16, generator=g)) == 0  # distinct tokens: no push


def test_camera_loss_weights_later_iterations_more():
    gt = torch.zeros(1, 2, 9)
    early_wrong = torch.zeros(4, 1, 2, 9)
    early_wrong[0] += 1
    late_wrong = torch.zeros(4, 1, 2, 9)
    late_wrong[3] += 1
    assert camera_loss(torch.zeros(4, 1, 2, 9), gt, 0.6) == 0
    assert camera_loss(late_wrong, gt, 0.6) > camera_loss(early_wrong, gt, 0.6) > 0


def test_example_is_scale_normalised_and_picks_each_frames_target_time():
    seq = generate_sequence(5, SCENE)
    times = np.array([2, 0, 1])
    ex = example_from_sequence(seq, times)
    tv = ex["gt_time_variant"]
    torch.testing.assert_close(tv[ex["valid"]].norm(dim=-1).mean(), torch.tensor(1.0), atol=1e-5, rtol=0)
    for i, t in enumerate(times):
        expected = torch.from_numpy(seq.pointmaps[t, i]) / ex["scale"]
        torch.testing.assert_close(ex["gt_dynamic"][i], expected.float())
    pose0 = ex["gt_pose_enc"][0]
    torch.testing.assert_close(pose0[:7], torch.tensor([0, 0, 0, 0, 0, 0, 1.0]), atol=1e-6, rtol=0)
    # translation of other frames is divided by the same scale as the points
    t1 = torch.from_numpy(seq.extrinsics[1, :, 3]) / ex["scale"]
    torch.testing.assert_close(ex["gt_pose_enc"][1, :3], t1.float(), atol=1e-6, rtol=1e-5)


def test_batches_are_deterministic_and_differ_between_steps():
    a, b, c = make_batch(3, 2, SCENE), make_batch(3, 2, SCENE), make_batch(4, 2, SCENE)
    assert torch.equal(a.images, b.images) and torch.equal(a.frame_times, b.frame_times)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (2, 3, 3, 28, 42) and a.gt_dynamic.shape == (2, 3, 28, 42, 3)


@pytest.mark.parametrize("workers", [0, 2])
def test_batch_stream_equals_make_batch_in_step_order_for_any_number_of_workers(workers):
    # Resuming at step 5 must give the batches an uncut run would have seen at steps 5, 6 and 7.
    stream = list(batch_stream(5, 8, 2, SCENE, workers=workers))
    assert len(stream) == 3
    for step, got in zip(range(5, 8), stream):
        want = make_batch(step, 2, SCENE)
        for name, value in vars(want).items():
            assert torch.equal(getattr(got, name), value), (step, name)


def test_cli_uses_no_generator_processes_on_a_small_cpu():
    from vdpm_ros.cli.train_cmd import default_workers

    assert [default_workers(c) for c in (1, 2, 4, 8, 16, 64)] == [0, 0, 0, 6, 12, 12]


def test_overfitting_one_batch_reduces_the_loss(micro_config):
    torch.manual_seed(0)
    model = VDPM(micro_config)
    batch = make_batch(0, 2, SCENE)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        out = model(batch.images, batch.frame_times)
        terms = dpm_loss(out, batch.gt_time_variant, batch.gt_dynamic, batch.valid, batch.gt_pose_enc, LossConfig())
        opt.zero_grad()
        terms.total.backward()
        opt.step()
        losses.append(terms.total.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3])


def test_training_resumes_where_it_stopped(tmp_path, micro_config):
    cfg = TrainConfig(steps=4, batch_size=1, warmup_steps=1, checkpoint_every=1, scene=SCENE)
    first = train(micro_config, cfg, tmp_path, device="cpu", max_minutes=0.0, progress=False)
    assert first.step == 0 and not first.finished  # a zero budget stops before the first step
    cut = train(micro_config, TrainConfig(**{**vars(cfg), "steps": 2}), tmp_path, device="cpu", progress=False)
    assert cut.step == 2 and (tmp_path / "last.pt").is_file()
    resumed = train(micro_config, cfg, tmp_path, device="cpu", progress=False)
    assert resumed.step == 4 and resumed.finished
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2, 3, 4]
    model, _ = load_model(resumed.final_model)
    assert model.config == micro_config


def test_generator_processes_do_not_change_the_training_run(tmp_path, micro_config):
    runs = []
    for workers in (0, 2):
        cfg = TrainConfig(steps=3, batch_size=1, warmup_steps=1, scene=SCENE, workers=workers)
        train(micro_config, cfg, tmp_path / str(workers), device="cpu", progress=False)
        runs.append(json.loads((tmp_path / str(workers) / "history.json").read_text()))
    assert runs[0] == runs[1]


def test_resume_refuses_another_architecture(tmp_path, micro_config):
    cfg = TrainConfig(steps=1, batch_size=1, warmup_steps=1, scene=SCENE)
    train(micro_config, cfg, tmp_path, device="cpu", progress=False)
    other = VDPMConfig.from_dict({**micro_config.to_dict(), "embed_dim": 32})
    with pytest.raises(ValueError, match="another model config"):
        train(other, TrainConfig(steps=2, batch_size=1, warmup_steps=1, scene=SCENE), tmp_path, device="cpu", progress=False)


def test_model_card_states_the_measured_numbers_and_the_verdict(tmp_path, micro_config):
    from vdpm_ros.evaluation.synthetic import SyntheticEvalConfig, evaluate_synthetic
    from vdpm_ros.harness.benchmark import run_pipeline_benchmark
    from vdpm_ros.harness.model_card import main as card_main
    from vdpm_ros.harness.model_card import meets_bar

    run = tmp_path / "run"
    result = train(micro_config, TrainConfig(steps=2, batch_size=1, warmup_steps=1, scene=SceneConfig(height=28, width=42, frames=3)),
                   run, progress=False)  # fmt: skip
    model, _ = load_model(result.final_model)
    ev = evaluate_synthetic(model, [1000], SyntheticEvalConfig(frames=10, height=28, width=42), progress=False)
    (tmp_path / "eval.json").write_text(json.dumps(ev))
    (tmp_path / "bench.json").write_text(json.dumps(run_pipeline_benchmark(model, 3, (28, 42), repeats=2, warmup=1)))
    out = tmp_path / "card.md"
    assert card_main(["--model", str(result.final_model), "--run", str(run), "--eval", str(tmp_path / "eval.json"),
                      "--bench", str(tmp_path / "bench.json"), "--out", str(out)]) == 0  # fmt: skip
    card = out.read_text()
    assert f"| tracking_epe_dynamic | {ev['tracking_epe_dynamic']:.4f} | {ev['no_motion']['tracking_epe_dynamic']:.4f} |" in card
    ok, _ = meets_bar(ev)
    assert ("meets the bar" in card) == ok and ("does NOT meet the bar" in card) == (not ok)
    assert "2 steps of batch 1" in card and "windows/s" in card


def test_model_card_bar():
    from vdpm_ros.harness.model_card import meets_bar

    def result(dyn, base, iou):
        return {"tracking_epe_dynamic": dyn, "motion_mask_iou": iou, "no_motion": {"tracking_epe_dynamic": base}}

    assert meets_bar(result(0.2, 0.5, 0.6)) == (True, 0.4)
    assert not meets_bar(result(0.3, 0.5, 0.6))[0]  # 0.6 of the baseline
    assert not meets_bar(result(0.2, 0.5, 0.4))[0]  # IoU below 0.5
