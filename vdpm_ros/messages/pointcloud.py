"""sensor_msgs/PointCloud2 payloads <-> numpy columns, with explicit byte offsets.

A cloud is described by ``CloudLayout`` (the PointField list and point_step) plus raw bytes;
``pack_cloud`` and ``unpack_cloud`` convert to and from named numpy columns (zero-copy on unpack).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: sensor_msgs/PointField datatype constants.
POINTFIELD_DATATYPES: dict[np.dtype, int] = {
    np.dtype(np.int8): 1,
    np.dtype(np.uint8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.uint16): 4,
    np.dtype(np.int32): 5,
    np.dtype(np.uint32): 6,
    np.dtype(np.float32): 7,
    np.dtype(np.float64): 8,
}
_DTYPES_BY_CODE = {code: dtype for dtype, code in POINTFIELD_DATATYPES.items()}


@dataclass(frozen=True)
class Field:
    """One sensor_msgs/PointField: name, byte offset in the point, datatype code, count."""

    name: str
    offset: int
    datatype: int
    count: int = 1


@dataclass(frozen=True)
class CloudLayout:
    fields: tuple[Field, ...]
    point_step: int

    def numpy_dtype(self) -> np.dtype:
        """Structured dtype with the fields' exact offsets (padding between fields is kept)."""
        return np.dtype(
            {
                "names": [f.name for f in self.fields],
                "formats": [(_DTYPES_BY_CODE[f.datatype], (f.count,)) if f.count > 1 else _DTYPES_BY_CODE[f.datatype] for f in self.fields],
                "offsets": [f.offset for f in self.fields],
                "itemsize": self.point_step,
            }
        )


def pack_cloud(columns: dict[str, np.ndarray]) -> tuple[CloudLayout, bytes]:
    """Named columns of equal shape (``[N]`` or ``[H, W]``) -> layout and little-endian point bytes.

    Fields are laid out in the given order, each aligned to its own size (as PCL does).
    """
    if not columns:
        raise ValueError("a point cloud needs at least one field")
    shapes = {np.shape(v) for v in columns.values()}
    if len(shapes) != 1:
        raise ValueError(f"all cloud columns must have the same shape, got {sorted(shapes)}")
    fields, offset = [], 0
    for name, values in columns.items():
        dtype = np.asarray(values).dtype
        if dtype not in POINTFIELD_DATATYPES:
            raise ValueError(f"field {name!r}: dtype {dtype} has no PointField datatype")
        offset = -(-offset // dtype.itemsize) * dtype.itemsize
        fields.append(Field(name, offset, POINTFIELD_DATATYPES[dtype]))
        offset += dtype.itemsize
    point_step = -(-offset // 4) * 4
    layout = CloudLayout(tuple(fields), point_step)
    buf = np.zeros(shapes.pop(), dtype=layout.numpy_dtype())
    for name, values in columns.items():
        buf[name] = values
    return layout, buf.tobytes()


def unpack_cloud(layout: CloudLayout, data: bytes | bytearray | memoryview | np.ndarray, height: int, width: int) -> np.ndarray:
    """Point bytes -> structured array ``[height, width]`` (a view on ``data``, no copy).

    Raises:
        ValueError: the byte count does not match ``height * width * point_step``.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    expected = height * width * layout.point_step
    if raw.size != expected:
        raise ValueError(f"cloud has {raw.size} bytes, expected {height} x {width} x {layout.point_step} = {expected}")
    return raw.view(layout.numpy_dtype()).reshape(height, width)
