"""DIS flow, forward-backward checks, composition, chaining and the link cache (known synthetic motion)."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from vdpm_ros.motion import optical_flow, window_flow
from vdpm_ros.motion.optical_flow import DisSettings, FlowField, compose, consistent, dis_flow, inside, refine, working_image, working_size
from vdpm_ros.motion.window_flow import LinkCache, latest_to_targets


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture, uint8 [h, w] (blurred noise: DIS needs gradients, not white noise)."""
    noise = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The image content moved by (dx, dy): out(x) = img(x - d)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def test_dis_recovers_a_translation():
    base = _texture(96, 128)
    moved = _shift(base, 3.0, -2.0)
    flow = dis_flow(base, moved, DisSettings("medium", 0))
    inner = flow[10:-10, 10:-10].reshape(-1, 2)
    assert np.median(np.linalg.norm(inner - [3.0, -2.0], axis=1)) < 0.2


def test_forward_backward_check_flags_inconsistent_pixels():
    h, w = 20, 30
    forward = np.zeros((h, w, 2), np.float32)
    forward[..., 0] = 2.0
    backward = np.zeros((h, w, 2), np.float32)
    backward[..., 0] = -2.0
    backward[5:10, 10:20] = (5.0, 5.0)  # where the target's pixels point elsewhere (an occlusion)
    valid, error = consistent(forward, backward, absolute_px=0.5, relative=0.0)
    assert valid[15, 5] and error[15, 5] < 1e-5
    # Source pixels whose forward match lands in the inconsistent block fail.
    assert not valid[7, 12] and error[7, 12] > 5
    # Matches that leave the image fail too.
    assert not valid[0, w - 1]


def test_compose_adds_flows_and_carries_validity():
    h, w = 16, 16
    first = FlowField(np.full((h, w, 2), (1.0, 0.0), np.float32), np.ones((h, w), bool), np.zeros((h, w), np.float32))
    second_valid = np.ones((h, w), bool)
    second_valid[:, 8] = False
    second = FlowField(np.full((h, w, 2), (0.0, 2.0), np.float32), second_valid, np.ones((h, w), np.float32))
    out = compose(first, second)
    np.testing.assert_allclose(out.flow[2:10, 2:6], np.broadcast_to([1.0, 2.0], (8, 4, 2)), atol=1e-5)
    assert not out.valid[3, 7]  # lands on column 8 of the middle frame, which was not trusted
    assert out.valid[3, 3]
    assert out.error[3, 3] == 1.0


def test_chained_and_refined_flow_matches_the_total_motion():
    base = _texture(96, 128, seed=1)
    # Frame k shows the texture moved by k * (2.5, 1); the latest (k = 4) is matched to frame 0.
    frames = [_shift(base, 2.5 * k, 1.0 * k) for k in range(5)]
    fields = latest_to_targets(frames, targets=[0, 3], dis=DisSettings("medium", 0))
    for j, field in fields.items():
        expected = np.array([-2.5 * (4 - j), -1.0 * (4 - j)])
        inner = field.valid[12:-12, 12:-12]
        assert inner.mean() > 0.9
        err = np.linalg.norm(field.flow[12:-12, 12:-12][inner] - expected, axis=1)
        assert np.median(err) < 0.3, (j, np.median(err))


def test_refine_removes_a_bias_in_the_initial_flow():
    base = _texture(96, 128, seed=2)
    moved = _shift(base, -4.0, 2.0)
    h, w = base.shape
    biased = FlowField(np.full((h, w, 2), (-3.0, 1.0), np.float32), np.ones((h, w), bool), np.zeros((h, w), np.float32))
    out = refine(base, moved, biased, DisSettings("medium", 0))
    err = np.linalg.norm(out.flow[12:-12, 12:-12] - [-4.0, 2.0], axis=-1)
    assert np.median(err) < 0.2


def test_link_cache_reuses_consecutive_flows(monkeypatch):
    calls = []
    real = optical_flow.dis_flow

    def counting(a, b, settings=DisSettings()):
        calls.append(1)
        return real(a, b, settings)

    monkeypatch.setattr(window_flow, "dis_flow", counting)
    base = _texture(48, 64, seed=3)
    frames = [_shift(base, k, 0.0) for k in range(6)]
    cache = LinkCache(16)
    latest_to_targets(frames[0:5], targets=[0, 3], keys=list(range(0, 5)), cache=cache, refine_chained=False)
    first = len(calls)
    assert first == 8  # 4 links, both directions
    latest_to_targets(frames[1:6], targets=[0, 3], keys=list(range(1, 6)), cache=cache, refine_chained=False)
    assert len(calls) - first == 2  # only the newest link is new


def test_a_flow_computed_on_one_thread_is_waited_for_by_another_not_repeated():
    cache = LinkCache(4)
    started, release, calls = threading.Event(), threading.Event(), []

    def slow():
        calls.append(threading.current_thread().name)
        started.set()
        assert release.wait(30)
        return np.ones((2, 2, 2), np.float32)

    results = {}
    first = threading.Thread(target=lambda: results.update(first=cache.get_or_compute("k", slow)), name="first")
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=lambda: results.update(second=cache.get_or_compute("k", slow)), name="second")
    second.start()
    second.join(0.2)
    assert second.is_alive(), "the second caller waits for the first one's flow"
    release.set()
    first.join(30)
    second.join(30)
    assert calls == ["first"] and results["first"][1] is True and results["second"][1] is False
    assert results["second"][0] is results["first"][0] and cache.get("k") is results["first"][0]


def test_a_failed_computation_is_not_cached_and_a_waiting_caller_computes_it_itself():
    cache = LinkCache(4)
    with pytest.raises(RuntimeError, match="boom"):
        cache.get_or_compute("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get("k") is None and len(cache) == 0
    flow, computed = cache.get_or_compute("k", lambda: np.zeros((1, 1, 2), np.float32))
    assert computed and cache.get("k") is flow


def test_prefetched_links_are_the_ones_a_window_reads(monkeypatch):
    real, calls = window_flow.dis_flow, []

    def counting(a, b, settings=DisSettings()):
        calls.append(1)
        return real(a, b, settings)

    monkeypatch.setattr(window_flow, "dis_flow", counting)
    base = _texture(48, 64, seed=5)
    rgb = [np.repeat(_shift(base, 1.5 * k, 0.5 * k)[..., None], 3, -1) for k in range(5)]
    work_hw, dis = (48, 64), DisSettings()
    grey = [working_image(img, work_hw) for img in rgb]
    cache = LinkCache(16)
    assert window_flow.prefetch_links(rgb, list(range(5)), work_hw, dis, cache) == 8  # 4 links, both directions
    assert window_flow.prefetch_links(rgb, list(range(5)), work_hw, dis, cache) == 0  # all there
    before = len(calls)
    cached = latest_to_targets(grey, targets=[0, 2, 3], dis=dis, keys=list(range(5)), cache=cache)
    assert len(calls) == before  # no link is computed again (the refinements of chained flows are not links)
    fresh = latest_to_targets(grey, targets=[0, 2, 3], dis=dis)
    for j in (0, 2, 3):
        np.testing.assert_array_equal(cached[j].flow, fresh[j].flow)
        np.testing.assert_array_equal(cached[j].valid, fresh[j].valid)
    with pytest.raises(ValueError, match="one key per image"):
        window_flow.prefetch_links(rgb, [0, 1], work_hw, dis, cache)


def test_working_grid_is_the_downscaled_camera_image():
    assert working_size((240, 320), 160) == (120, 160)
    assert working_size((120, 160), 320) == (120, 160)  # never upscaled
    img = np.zeros((240, 320, 3), np.uint8)
    assert working_image(img, (120, 160)).shape == (120, 160)


def test_inside_and_settings_validation():
    flow = np.zeros((4, 4, 2), np.float32)
    flow[0, 0] = (-1.0, 0.0)
    assert not inside(flow)[0, 0] and inside(flow)[1, 1]
    with pytest.raises(ValueError):
        DisSettings("slow")
    with pytest.raises(ValueError):
        dis_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8))
