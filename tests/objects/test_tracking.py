"""Track ids across windows: stable for the same object, new for a new one, never reused."""

from __future__ import annotations

import numpy as np
import pytest
from object_samples import make_object

from vdpm_ros.evaluation.objects import ground_truth_objects, match_objects, observation_from_sequence
from vdpm_ros.objects import ObjectTracker, TrackerConfig, box_iou, detect_moving_objects
from vdpm_ros.objects.detection import DetectedObject, ObjectDetections
from vdpm_ros.objects.segmentation import Segmentation

SECOND = 1_000_000_000


def _window(stamp_s: float, *objects: DetectedObject) -> ObjectDetections:
    seg = Segmentation(np.zeros((2, 2), np.int32), len(objects), len(objects), 0)
    stamp = int(round(stamp_s * SECOND))
    return ObjectDetections(stamp, stamp - SECOND // 10, "m", seg, tuple(objects), 0)


def test_ids_follow_the_generators_objects_over_a_sequence_of_windows(long_sequence):
    """Five overlapping windows of one sequence: each ground-truth object keeps one track id."""
    seq = long_sequence
    tracker = ObjectTracker()
    id_of: dict[int, set[int]] = {}
    for target in range(4, seq.num_frames):
        det = detect_moving_objects(observation_from_sequence(seq, source=target - 4, target=target))
        tracked = tracker.update(det)
        assert [t.detection for t in tracked] == list(det.objects)
        gt = ground_truth_objects(seq, source=target - 4, target=target)
        matches = match_objects(det.masks(), np.stack([g.mask for g in gt]))
        for p, g in matches.pairs:
            id_of.setdefault(gt[g].object_id, set()).add(tracked[p].track_id)
    assert len(id_of) >= 2
    assert all(len(ids) == 1 for ids in id_of.values()), id_of
    assert len({next(iter(ids)) for ids in id_of.values()}) == len(id_of)  # different objects, different ids


def test_constant_velocity_objects_keep_their_ids_and_a_newcomer_gets_a_new_one():
    tracker = ObjectTracker()
    a = tracker.update(_window(0.0, make_object([0, 0, 3], [1.0, 0, 0]), make_object([0, 0, 6], [0, 0, -1.0])))
    assert [t.track_id for t in a] == [1, 2] and all(t.observations == 1 for t in a)
    # 0.2 s later both moved by their velocity (0.2 of a 0.69 diagonal); a third object appears. Order shuffled.
    b = tracker.update(_window(0.2, make_object([0, 1, 3]), make_object([0, 0, 5.8], [0, 0, -1.0]), make_object([0.2, 0, 3], [1.0, 0, 0])))
    assert [t.track_id for t in b] == [3, 2, 1]
    assert [t.observations for t in b] == [1, 2, 2] and b[2].first_stamp_ns == 0
    assert tracker.num_tracks == 3


def test_a_track_dies_after_max_missed_windows_and_its_id_is_never_reused():
    tracker = ObjectTracker(TrackerConfig(max_missed=2))
    assert tracker.update(_window(0.0, make_object([0, 0, 3])))[0].track_id == 1
    tracker.update(_window(0.1))
    tracker.update(_window(0.2))  # missed twice: still alive
    assert tracker.num_tracks == 1
    assert tracker.update(_window(0.3, make_object([0, 0, 3])))[0].track_id == 1
    for k in range(3):
        tracker.update(_window(0.4 + 0.1 * k))  # missed three times: gone
    assert tracker.num_tracks == 0
    assert tracker.update(_window(0.8, make_object([0, 0, 3])))[0].track_id == 2
    tracker.reset()
    assert tracker.update(_window(0.9, make_object([0, 0, 3])))[0].track_id == 3


def test_time_going_back_restarts_the_tracks_with_fresh_ids():
    tracker = ObjectTracker()
    tracker.update(_window(5.0, make_object([0, 0, 3])))
    assert tracker.update(_window(1.0, make_object([0, 0, 3])))[0].track_id == 2


def test_the_gate_is_relative_to_the_object_size():
    tracker = ObjectTracker()
    tracker.update(_window(0.0, make_object([0, 0, 3], size=0.4)))  # diagonal 0.69
    assert tracker.update(_window(0.1, make_object([0.5, 0, 3], size=0.4)))[0].track_id == 1
    assert tracker.update(_window(0.2, make_object([1.5, 0, 3], size=0.4)))[0].track_id == 2  # a 1 m jump: another object
    big = ObjectTracker(TrackerConfig(min_gate=2.0))
    big.update(_window(0.0, make_object([0, 0, 3])))
    assert big.update(_window(0.1, make_object([1.5, 0, 3])))[0].track_id == 1


def test_velocity_smoothing_averages_the_track_velocity():
    tracker = ObjectTracker(TrackerConfig(velocity_smoothing=0.5))
    tracker.update(_window(0.0, make_object([0, 0, 3], [1.0, 0, 0])))
    t = tracker.update(_window(0.1, make_object([0.1, 0, 3], [3.0, 0, 0])))[0]
    np.testing.assert_allclose(t.velocity, [2.0, 0, 0])
    np.testing.assert_allclose(t.detection.velocity, [3.0, 0, 0])


def test_box_iou():
    zero, one = np.zeros(3), np.ones(3)
    assert box_iou(zero, one, zero, one) == 1.0
    assert box_iou(zero, one, one, 2 * one) == 0.0
    assert box_iou(zero, one, np.array([0.5, 0, 0]), np.array([1.5, 1, 1])) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gate_size_factor": 0.0}, "gate_size_factor"),
        ({"max_missed": -1}, "max_missed"),
        ({"velocity_smoothing": 1.0}, "velocity_smoothing"),
        ({"min_gate": -1.0}, "min_gate"),
    ],
)
def test_bad_tracker_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrackerConfig(**kwargs)
