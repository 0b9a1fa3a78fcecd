"""The MarkerArray values of tracked objects: DELETEALL first, a box, an arrow and a label per track."""

from __future__ import annotations

import numpy as np
import pytest
from object_samples import make_object

from vdpm_ros.objects import MarkerConfig, object_markers, track_color
from vdpm_ros.objects.tracking import TrackedObject


def _tracked(track_id, centre, velocity, size=0.4):
    det = make_object(centre, velocity, size)
    return TrackedObject(track_id, det, np.asarray(velocity, dtype=np.float64), 1, 0)


def test_each_object_gets_a_box_an_arrow_and_a_label():
    objects = [_tracked(3, [1.0, 0.5, 4.0], [0.5, 0.0, 0.0]), _tracked(9, [0.0, 0.0, 2.0], [0.0, 0.0, 0.0], size=0.2)]
    markers = object_markers(objects, units="m", config=MarkerConfig(arrow_time_s=2.0, text_height=0.1))
    assert markers.delete_all_first and len(markers.markers) == 2
    moving, still = markers.markers
    assert moving.track_id == 3 and moving.color == track_color(3)
    np.testing.assert_allclose(moving.box_center, [1.0, 0.5, 4.0])
    np.testing.assert_allclose(moving.box_size, [0.4, 0.4, 0.4])
    np.testing.assert_allclose(moving.arrow_start, [1.0, 0.5, 4.0])
    np.testing.assert_allclose(moving.arrow_end, [2.0, 0.5, 4.0])  # 0.5 m/s for 2 s
    assert moving.text == "#3 0.50 m/s"
    np.testing.assert_allclose(moving.text_position, [1.0, 0.5 - 0.2 - 0.1, 4.0])  # above the box: -y in an optical frame
    assert still.arrow_start is None and still.arrow_end is None and still.text == "#9 0.00 m/s"


def test_model_units_and_a_custom_up_axis():
    markers = object_markers([_tracked(1, [0, 0, 0], [0, 3.0, 4.0])], units="model", up=np.array([0.0, 0.0, 1.0]))
    m = markers.markers[0]
    assert m.text == "#1 5.00 u/s"
    np.testing.assert_allclose(m.text_position, [0, 0, 0.2 + MarkerConfig().text_height])


def test_colours_are_fixed_per_id_and_differ_between_neighbours():
    assert track_color(5) == track_color(5)
    colours = np.array([track_color(i) for i in range(1, 11)])
    assert ((colours >= 0) & (colours <= 1)).all()
    gaps = np.linalg.norm(np.diff(colours, axis=0), axis=-1)
    assert gaps.min() > 0.2


def test_an_empty_window_only_deletes():
    markers = object_markers([], units="m")
    assert markers.delete_all_first and markers.markers == ()


@pytest.mark.parametrize("kwargs", [{"arrow_time_s": 0.0}, {"text_height": -1.0}, {"box_alpha": 1.5}])
def test_bad_marker_configs_are_refused(kwargs):
    with pytest.raises(ValueError):
        MarkerConfig(**kwargs)


def test_the_docs_picture_is_drawn(tmp_path):
    from vdpm_ros.evaluation.objects_preview import run_object_stage, write_objects_picture
    from vdpm_ros.synth import SceneConfig, generate_sequence

    seq = generate_sequence(1000, SceneConfig(height=60, width=80, frames=6))
    tracks, smap, labels = run_object_stage(seq)
    assert len(tracks) == 2 and len(smap) > 0 and labels.max() >= 1
    assert {t.track_id for t in tracks[-1]} <= {t.track_id for t in tracks[0]} | {max(t.track_id for t in tracks[0]) + 1}
    path = write_objects_picture(seq, tmp_path / "objects.png")
    assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
