"""The object metrics as pure functions, on hand-made masks, velocities and rotations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vdpm_ros.evaluation.objects import (
    ObjectMetrics,
    combine_object_metrics,
    match_objects,
    object_precision,
    object_recall,
    object_rotation_error_deg,
    object_velocity_rel_error,
)


def _masks(*boxes, hw=(20, 20)):
    out = np.zeros((len(boxes), *hw), bool)
    for k, (r0, r1, c0, c1) in enumerate(boxes):
        out[k, r0:r1, c0:c1] = True
    return out


def test_matching_is_one_to_one_by_iou_with_a_threshold():
    gt = _masks((0, 10, 0, 10), (10, 20, 10, 20), (0, 5, 15, 20))
    pred = _masks((0, 10, 0, 8), (12, 20, 10, 20), (0, 10, 0, 10), (15, 20, 0, 5))
    m = match_objects(pred, gt)
    # pred 2 equals gt 0 exactly, pred 0 (IoU 0.8) loses it; pred 1 matches gt 1 (0.8); gt 2 and pred 3 stay unmatched.
    assert sorted(map(tuple, m.pairs)) == [(1, 1), (2, 0)]
    np.testing.assert_allclose(sorted(m.iou), [0.8, 1.0])
    assert object_recall(m) == pytest.approx(2 / 3) and object_precision(m) == pytest.approx(2 / 4)
    assert len(match_objects(pred, gt, min_iou=0.9).pairs) == 1


def test_empty_sets():
    none = np.zeros((0, 20, 20), bool)
    gt = _masks((0, 10, 0, 10))
    m = match_objects(none, gt)
    assert object_recall(m) == 0.0 and object_precision(m) == 1.0
    m = match_objects(gt, none)
    assert object_recall(m) == 1.0 and object_precision(m) == 0.0
    assert np.isnan(object_velocity_rel_error(m, np.zeros((1, 3)), np.zeros((0, 3))))
    with pytest.raises(ValueError, match="image size"):
        match_objects(gt, np.zeros((1, 10, 10), bool))
    with pytest.raises(ValueError, match="min_iou"):
        match_objects(gt, gt, min_iou=0.0)


def test_velocity_and_rotation_errors_over_matched_pairs():
    gt = _masks((0, 10, 0, 10), (10, 20, 10, 20))
    m = match_objects(gt[::-1], gt)  # pred 0 = gt 1, pred 1 = gt 0
    v_gt = np.array([[1.0, 0, 0], [0, 2.0, 0]])
    v_pred = np.array([[0, 2.5, 0], [1.0, 0.5, 0]])  # errors 0.5 / 2 and 0.5 / 1
    assert object_velocity_rel_error(m, v_pred, v_gt) == pytest.approx((0.25 + 0.5) / 2)
    r_gt = Rotation.from_rotvec([[0, 0, 0.3], [0.2, 0, 0]]).as_matrix()
    extra = Rotation.from_rotvec([[0, 0, np.radians(2)], [np.radians(4), 0, 0]]).as_matrix()
    r_pred = np.stack([r_gt[1] @ extra[0], r_gt[0] @ extra[1]])  # off by 2 and 4 degrees
    err = object_rotation_error_deg(m, r_pred, r_gt)
    assert err == pytest.approx(3.0, abs=1e-6)
    assert object_rotation_error_deg(m, r_pred, r_gt, include=np.array([True, False])) == pytest.approx(4.0, abs=1e-6)


def test_pooled_metrics_use_the_counts():
    a = ObjectMetrics(1.0, 0.5, 0.1, 2.0, num_ground_truth=2, num_predicted=4, num_matched=2, num_rigid_matched=1)
    b = ObjectMetrics(0.0, 1.0, float("nan"), float("nan"), num_ground_truth=2, num_predicted=0, num_matched=0, num_rigid_matched=0)
    c = ObjectMetrics(1.0, 1.0, 0.4, 5.0, num_ground_truth=1, num_predicted=1, num_matched=1, num_rigid_matched=1)
    pooled = combine_object_metrics([a, b, c])
    assert pooled.recall == pytest.approx(3 / 5) and pooled.precision == pytest.approx(3 / 5)
    assert pooled.velocity_rel_error == pytest.approx((0.1 * 2 + 0.4) / 3)
    assert pooled.rotation_error_deg == pytest.approx(3.5)
