"""PointCloud2 payload packing: offsets, alignment, zero-copy unpacking, errors."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.messages.pointcloud import CloudLayout, Field, pack_cloud, unpack_cloud


def test_round_trip_of_mixed_fields_keeps_values_and_alignment():
    rng = np.random.default_rng(0)
    cols = {
        "x": rng.normal(size=(4, 5)).astype(np.float32),
        "flag": (rng.random((4, 5)) > 0.5).astype(np.uint8),
        "y": rng.normal(size=(4, 5)).astype(np.float32),
        "id": rng.integers(0, 1000, (4, 5)).astype(np.uint16),
        "t": rng.normal(size=(4, 5)),  # float64
    }
    layout, data = pack_cloud(cols)
    offsets = {f.name: f.offset for f in layout.fields}
    assert offsets == {"x": 0, "flag": 4, "y": 8, "id": 12, "t": 16}  # each field aligned to its size
    assert [f.datatype for f in layout.fields] == [7, 2, 7, 4, 8]
    assert layout.point_step == 24 and len(data) == 20 * 24
    cloud = unpack_cloud(layout, data, 4, 5)
    for name, values in cols.items():
        np.testing.assert_array_equal(cloud[name], values)


def test_unpack_is_a_view_of_the_message_bytes():
    layout, data = pack_cloud({"x": np.arange(6, dtype=np.float32)})
    buf = bytearray(data)
    cloud = unpack_cloud(layout, buf, 1, 6)
    buf[0:4] = np.float32(42.0).tobytes()
    assert cloud["x"][0, 0] == 42.0


def test_foreign_layout_with_padding_reads_correctly():
    """A cloud from another packer: xyz + padding + rgb at offset 16, point_step 32 (PCL's PointXYZRGB)."""
    layout = CloudLayout((Field("x", 0, 7), Field("y", 4, 7), Field("z", 8, 7), Field("rgb", 16, 6)), 32)
    raw = np.zeros(3, dtype=layout.numpy_dtype())
    raw["z"] = [1.0, 2.0, 3.0]
    raw["rgb"] = [0xFF0000, 0x00FF00, 0x0000FF]
    cloud = unpack_cloud(layout, raw.tobytes(), 1, 3)
    assert cloud["z"].tolist() == [[1.0, 2.0, 3.0]] and cloud["rgb"][0, 1] == 0x00FF00


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="same shape"):
        pack_cloud({"x": np.zeros(3, np.float32), "y": np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match="no PointField datatype"):
        pack_cloud({"x": np.zeros(3, np.complex64)})
    layout, data = pack_cloud({"x": np.zeros(6, np.float32)})
    with pytest.raises(ValueError, match="expected 2 x 4"):
        unpack_cloud(layout, data, 2, 4)
