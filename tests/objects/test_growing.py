"""An object's slow parts (near a spinning object's axis) join it by its rigid motion; the still background beside it does not."""

from __future__ import annotations

import numpy as np

from vdpm_ros.objects import ObjectDetectionConfig, ObjectObservation, detect_moving_objects

H, W, F = 60, 80, 70.0
PLATE = (slice(15, 45), slice(25, 55))


def _spinning_plate(theta_deg: float = 20.0, shift=(0.0, 0.0, 0.0)) -> tuple[ObjectObservation, np.ndarray]:
    """A wall at 3 m; a square of it spins in its own plane about its centre (and shifts by ``shift``) over 1 s."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    depth = np.full((H, W), 3.0)
    end = np.stack([(u - (W - 1) / 2) / F * depth, (v - (H - 1) / 2) / F * depth, depth], axis=-1)
    src = end.copy()
    plate = np.zeros((H, W), bool)
    plate[PLATE] = True
    c = end[PLATE].reshape(-1, 3).mean(0)
    t = np.radians(theta_deg)
    back = np.array([[np.cos(t), np.sin(t), 0.0], [-np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])  # R(-theta)
    src[plate] = (end[plate] - c - shift) @ back.T + c
    moved = np.linalg.norm(end - src, axis=-1)
    dynamic = moved > 0.5 * moved[plate].max()  # the inner part of the plate moves too little to be flagged
    obs = ObjectObservation(stamp_ns=10**9, source_stamp_ns=0, points=end.astype(np.float32), source_points=src.astype(np.float32),
                            dynamic=dynamic, confidence=np.ones((H, W), np.float32), usable=np.ones((H, W), bool),
                            camera_position=np.zeros(3), units="m")  # fmt: skip
    return obs, plate


def test_the_pixels_near_the_axis_join_and_the_wall_around_does_not():
    obs, plate = _spinning_plate()
    assert 0 < obs.dynamic.sum() < plate.sum() and not obs.dynamic[30, 40]  # the centre is not in the mask
    ring = detect_moving_objects(obs, ObjectDetectionConfig(grow_agreement=0.0))
    grown = detect_moving_objects(obs)
    assert len(ring.objects) == len(grown.objects) == 1
    assert ring.objects[0].point_count == obs.dynamic.sum() < plate.sum()
    np.testing.assert_array_equal(grown.masks()[0], plate)  # the whole plate, none of the coplanar wall beside it
    obj = grown.objects[0]
    assert obj.point_count == plate.sum()
    np.testing.assert_allclose(obj.box_min, obs.points[PLATE].reshape(-1, 3).min(0), atol=1e-6)
    np.testing.assert_allclose(obj.box_max, obs.points[PLATE].reshape(-1, 3).max(0), atol=1e-6)
    # A plate spinning about its centre: the centroid of all of it does not move.
    np.testing.assert_allclose(obj.velocity, 0.0, atol=1e-5)


def test_a_slow_edge_next_to_the_still_wall_is_left_out_rather_than_take_the_wall():
    """Spin plus shift: the motion's fixed point lies in the wall beside the plate, where still points are
    explained as well as slow ones. Only what the moving pixels enclose may join, so no wall pixel does."""
    obs, plate = _spinning_plate(theta_deg=10.0, shift=(0.2, 0.0, 0.0))
    ring = detect_moving_objects(obs, ObjectDetectionConfig(grow_agreement=0.0)).objects[0]
    det = detect_moving_objects(obs)
    assert not (det.masks()[0] & ~plate).any()
    assert ring.point_count <= det.objects[0].point_count < plate.sum()


def test_a_motion_that_explains_nothing_does_not_grow():
    obs, plate = _spinning_plate()
    rng = np.random.default_rng(0)
    noisy = obs.points + rng.normal(scale=0.2, size=obs.points.shape).astype(np.float32) * obs.dynamic[..., None]
    obs = ObjectObservation(**{**obs.__dict__, "points": noisy})
    det = detect_moving_objects(obs, ObjectDetectionConfig(segmentation=det_config()))
    assert all(not (m & ~obs.dynamic).any() for m in det.masks())


def det_config():
    from vdpm_ros.objects import SegmentationConfig

    return SegmentationConfig(split_distance=1.0)  # keep the noisy ring together
