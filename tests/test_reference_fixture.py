"""Our implementation against outputs produced by the official V-DPM code (tests/fixtures/reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vdpm_ros.geometry import cameras_to_pose_encoding, pose_encoding_to_cameras
from vdpm_ros.harness.conformance import compare_to_reference, run_conformance

# The fixture README: a faithful float32 re-implementation matches within 1e-4 / 1e-4.
ATOL = RTOL = 1e-4
# Pose maths is a handful of float32 operations: it must agree to float32 rounding.
POSE_ATOL = 1e-6


@pytest.fixture(scope="module")
def conformance_outputs(reference_dir):
    return run_conformance(reference_dir / "tiny")


def test_every_reference_array_is_reproduced(conformance_outputs, tiny_outputs):
    assert set(tiny_outputs) <= set(conformance_outputs)
    assert compare_to_reference(conformance_outputs, tiny_outputs, ATOL, RTOL) == []


@pytest.mark.parametrize(
    "name",
    [
        "aggregator_tokens", "decoder_tokens_t0", "static_pts3d", "static_conf", "forward_dynamic_pts3d",
        "forward_dynamic_conf", "pointmaps_t0_pts3d", "pointmaps_t1_conf", "pointmaps_t2_pts3d",
        "pose_enc", "pose_enc_list", "extrinsics", "intrinsics",
    ],
)  # fmt: skip
def test_reference_array(conformance_outputs, tiny_outputs, name):
    got, ref = conformance_outputs[name], tiny_outputs[name]
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=ATOL, rtol=RTOL)


def test_comparison_detects_a_wrong_array(conformance_outputs, tiny_outputs):
    broken = dict(conformance_outputs)
    broken["pointmaps_t1_pts3d"] = broken["pointmaps_t1_pts3d"] + 1e-3
    problems = compare_to_reference(broken, tiny_outputs, ATOL, RTOL)
    assert len(problems) == 1 and problems[0].startswith("pointmaps_t1_pts3d")


def test_pose_encoding_fixture(reference_dir):
    with np.load(reference_dir / "pose_enc.npz") as d:
        ref = {k: d[k] for k in d.files}
    hw = tuple(int(v) for v in ref["image_size_hw"])
    extrinsics, intrinsics = pose_encoding_to_cameras(torch.from_numpy(ref["pose_enc"]), hw)
    np.testing.assert_allclose(extrinsics.numpy(), ref["extrinsics"], atol=POSE_ATOL, rtol=0)
    np.testing.assert_allclose(intrinsics.numpy(), ref["intrinsics"], atol=POSE_ATOL, rtol=1e-6)
    roundtrip = cameras_to_pose_encoding(extrinsics, intrinsics, hw)
    np.testing.assert_allclose(roundtrip.numpy(), ref["pose_enc_roundtrip"], atol=POSE_ATOL, rtol=0)
    assert (roundtrip[..., 6] >= 0).all()
    e2, i2 = pose_encoding_to_cameras(roundtrip, hw)
    np.testing.assert_allclose(e2.numpy(), ref["extrinsics_roundtrip"], atol=POSE_ATOL, rtol=0)
    np.testing.assert_allclose(i2.numpy(), ref["intrinsics_roundtrip"], atol=POSE_ATOL, rtol=1e-6)
