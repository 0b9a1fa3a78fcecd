"""The streaming API (encode once, decode what is needed) gives the same maps as the full computation."""

from __future__ import annotations

import pytest
import torch

from vdpm_ros.model import VDPM

# Batching target times into one decoder call changes float32 summation order only.
ATOL = 2e-5
RTOL = 1e-5


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=ATOL, rtol=RTOL)


@pytest.fixture(scope="module")
def window(tiny_model, tiny_images):
    with torch.no_grad():
        state = tiny_model.encode(tiny_images)
        full = tiny_model.decode(state)
    return state, full


def test_state_keeps_only_what_decoding_needs(tiny_model, window):
    state, _ = window
    cfg = tiny_model.config
    S = state.frames
    P = cfg.num_special_tokens + (56 // 14) * (84 // 14)
    assert state.layer_tokens.shape == (4, 1, S, P, 2 * cfg.embed_dim)
    assert state.camera_tokens.shape == state.time_tokens.shape == (1, S, 2 * cfg.embed_dim)


def test_batched_decode_equals_one_decoder_pass_per_time(tiny_model, window):
    """The official inference() loops over target times; one batched call must agree with that loop."""
    state, full = window
    for j in range(state.frames):
        with torch.no_grad():
            single = tiny_model.decode(state, [j])
        _close(single.pts3d[:, 0], full.pts3d[:, j])
        _close(single.conf[:, 0], full.conf[:, j])


def test_frame_subset_equals_same_frames_of_full_decode(tiny_model, window):
    state, full = window
    with torch.no_grad():
        sub = tiny_model.decode(state, target_times=[2, 0], frames=[2, 1])
    assert sub.pts3d.shape[:3] == (1, 2, 2) and sub.target_times == (2, 0) and sub.frames == (2, 1)
    for k, t in enumerate(sub.target_times):
        for f, i in enumerate(sub.frames):
            _close(sub.pts3d[:, k, f], full.pts3d[:, t, i])
            _close(sub.conf[:, k, f], full.conf[:, t, i])
            pts, conf = sub.at(t, i)
            assert torch.equal(pts, sub.pts3d[:, k, f]) and torch.equal(conf, sub.conf[:, k, f])


def test_time_variant_subset(tiny_model, window):
    state, _ = window
    with torch.no_grad():
        every = tiny_model.time_variant(state)
        last = tiny_model.time_variant(state, frames=[2])
    _close(last.pts3d[:, 0], every.pts3d[:, 2])
    assert last.times.tolist() == [[2]]


def test_uniform_per_frame_conditioning_equals_decode(tiny_model, window):
    state, full = window
    with torch.no_grad():
        per_frame = tiny_model.decode_per_frame(state, torch.full((1, state.frames), 1))
    _close(per_frame.pts3d, full.pts3d[:, 1])


def test_mixed_per_frame_conditioning_differs_from_per_time_maps(tiny_model, window):
    """Global attention mixes frames with different conditions, so this is a different computation."""
    state, full = window
    with torch.no_grad():
        mixed = tiny_model.decode_per_frame(state, torch.tensor([[2, 1, 0]]))
    assert not torch.allclose(mixed.pts3d[0, 0], full.pts3d[0, 2, 0], atol=1e-4)


def test_training_forward_matches_the_official_forward(tiny_model, tiny_images, tiny_outputs):
    times = torch.tensor([[2, 1, 0]])  # the fixture's forward_cond_view_idxs
    with torch.no_grad():
        out = tiny_model(tiny_images, times)
    ref = {k: torch.from_numpy(v) for k, v in tiny_outputs.items()}
    torch.testing.assert_close(out.dynamic.pts3d, ref["forward_dynamic_pts3d"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.dynamic.conf, ref["forward_dynamic_conf"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.time_variant.pts3d, ref["static_pts3d"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.cameras.pose_enc_iterations, ref["pose_enc_list"], atol=1e-5, rtol=1e-5)
    assert out.dynamic.times.tolist() == times.tolist()


@pytest.mark.parametrize("times, message", [(torch.tensor([[0, 1, 3]]), r"\[0, 3\)"), (torch.tensor([0, 1, 2]), r"\[B, S\]")])
def test_bad_per_frame_times_are_clear_errors(tiny_model, window, times, message):
    state, _ = window
    with pytest.raises(ValueError, match=message):
        tiny_model.decode_per_frame(state, times)


def test_heads_stay_float32_under_bf16_autocast(tiny_model, tiny_images, window):
    """The official code runs the DPT and camera heads outside autocast; so do we."""
    _, full = window
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        state = tiny_model.encode(tiny_images)
        maps = tiny_model.decode(state, [0])
        cams = tiny_model.cameras(state)
    assert maps.pts3d.dtype == maps.conf.dtype == cams.pose_enc.dtype == torch.float32
    # bf16 backbone: close to fp32, not equal
    assert 0 < (maps.pts3d[:, 0] - full.pts3d[:, 0]).abs().max() < 1.0


def test_integer_images_are_refused(tiny_model):
    with pytest.raises(ValueError, match="float RGB"):
        tiny_model.encode(torch.zeros(1, 3, 3, 56, 84, dtype=torch.uint8))


def test_batch_items_are_independent(tiny_model, tiny_images):
    flipped = tiny_images.flip(-1)
    with torch.no_grad():
        both = tiny_model.decode(tiny_model.encode(torch.cat([tiny_images, flipped])), [1], [0, 2])
        alone = tiny_model.decode(tiny_model.encode(flipped), [1], [0, 2])
    _close(both.pts3d[1:], alone.pts3d)


def test_unbatched_images_are_accepted(tiny_model, tiny_images, window):
    state, _ = window
    with torch.no_grad():
        s2 = tiny_model.encode(tiny_images[0])
    _close(s2.layer_tokens, state.layer_tokens)


def test_decoding_only_the_latest_frame_is_cheaper(tiny_model, window):
    """Decoding 2 target times for one frame must do less DPT work than the full decode."""
    state, _ = window
    calls: list[int] = []
    handle = tiny_model.point_head.scratch.output_conv2.register_forward_hook(lambda m, i, o: calls.append(o.shape[0]))
    try:
        with torch.no_grad():
            tiny_model.decode(state, [1, 2], frames=[2])
            latest_only = sum(calls)
            calls.clear()
            tiny_model.decode(state)
            everything = sum(calls)
    finally:
        handle.remove()
    assert (latest_only, everything) == (2, 9)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"target_times": [3]}, "target_times"), ({"frames": [-1]}, "frames"), ({"frames": []}, "empty")],
)
def test_bad_selection_is_a_clear_error(tiny_model, window, kwargs, message):
    state, _ = window
    with pytest.raises(ValueError, match=message):
        tiny_model.decode(state, **kwargs)


def test_bad_image_shapes_are_clear_errors(tiny_model):
    with pytest.raises(ValueError, match=r"\[S, 3, H, W\]"):
        tiny_model.encode(torch.zeros(3, 56, 84))
    with pytest.raises(ValueError, match="multiple of the patch size"):
        tiny_model.encode(torch.zeros(2, 3, 50, 84))


def test_gradients_flow_through_training_forward(tiny_config):
    torch.manual_seed(0)
    model = VDPM(tiny_config)
    out = model(torch.rand(1, 2, 3, 28, 42), torch.tensor([[1, 0]]))
    loss = out.dynamic.pts3d.mean() + out.time_variant.conf.mean() + out.cameras.pose_enc.mean()
    loss.backward()
    assert model.decoder.frame_blocks[0][0].modulation.lin.weight.grad is not None
    assert model.aggregator.time_conditioning_token.grad.abs().sum() > 0
