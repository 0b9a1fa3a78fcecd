"""Message type providers: the one output builder makes its messages through either of these.

A provider turns ``make("sensor_msgs/msg/Image", header=..., data=array)`` into a message of its library:

- :class:`RclpyTypes`: the rclpy message classes, for the node's publishers (rclpy is imported on first use);
- :class:`RosbagsTypes`: a ``rosbags`` typestore, for writing bags without ROS.

The builder always passes numbers as plain Python values and arrays as numpy arrays of the field's dtype;
each provider converts them to what its library takes, and fills the fields the builder leaves out with
their ROS defaults (rosbags' message classes have no defaults of their own).
"""

from __future__ import annotations

import array
import importlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np

#: ROS primitive type -> (numpy dtype, array.array typecode).
_PRIMITIVES = {
    "bool": (np.bool_, "B"), "byte": (np.uint8, "B"), "char": (np.uint8, "B"), "octet": (np.uint8, "B"),
    "boolean": (np.bool_, "B"),
    "int8": (np.int8, "b"), "uint8": (np.uint8, "B"), "int16": (np.int16, "h"), "uint16": (np.uint16, "H"),
    "int32": (np.int32, "i"), "uint32": (np.uint32, "I"), "int64": (np.int64, "q"), "uint64": (np.uint64, "Q"),
    "float32": (np.float32, "f"), "float": (np.float32, "f"), "float64": (np.float64, "d"), "double": (np.float64, "d"),
}  # fmt: skip


class MessageTypes(Protocol):
    """What the output builder needs from a message library."""

    def make(self, msgtype: str, **fields: Any) -> Any:
        """A message of ``msgtype`` ("pkg/msg/Name") with ``fields`` set and every other field at its default."""


def rclpy_message_class(msgtype: str) -> type:
    """``"sensor_msgs/msg/Image"`` -> the installed rclpy message class (ImportError/AttributeError if absent)."""
    package, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


class RclpyTypes:
    """rclpy message classes, looked up by name (``sensor_msgs/msg/Image`` -> ``sensor_msgs.msg.Image``)."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}
        self._kinds: dict[str, dict[str, str]] = {}

    def message_class(self, msgtype: str) -> type:
        cls = self._classes.get(msgtype)
        if cls is None:
            cls = rclpy_message_class(msgtype)
            self._classes[msgtype] = cls
            self._kinds[msgtype] = cls.get_fields_and_field_types()
        return cls

    def make(self, msgtype: str, **fields: Any) -> Any:
        msg = self.message_class(msgtype)()
        kinds = self._kinds[msgtype]
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                value = self._array_value(kinds[name], value)
            elif kinds[name] == "octet" and isinstance(value, int):
                value = bytes([value])  # a ROS `byte` (e.g. DiagnosticStatus.level) is a 1-byte bytes in rclpy
            setattr(msg, name, value)
        return msg

    @staticmethod
    def _array_value(kind: str, value: np.ndarray) -> Any:
        if kind.startswith("sequence<"):
            # array.array from bytes is one memcpy; rosidl then takes it as it is, where a numpy array would be
            # converted element by element (and is refused outright with ROS_PYTHON_CHECK_FIELDS on).
            base = kind[len("sequence<") :].split(",")[0].rstrip(">")
            dtype, code = _PRIMITIVES[base]
            out = array.array(code)
            out.frombytes(np.ascontiguousarray(value, dtype=dtype).tobytes())
            return out
        base = kind.split("[")[0]
        return np.ascontiguousarray(value, dtype=_PRIMITIVES[base][0])  # fixed-size arrays are numpy in rosidl


class RosbagsTypes:
    """A ``rosbags`` typestore (ROS 2 Jazzy types plus this package's interfaces from msg/*.msg)."""

    def __init__(self, interface_dir: Path | None = None) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.store = get_typestore(Stores.ROS2_JAZZY)
        self.custom_types: tuple[str, ...] = ()
        if interface_dir is not None:
            self.custom_types = register_interfaces(self.store, interface_dir)

    def serialize(self, msg: Any, msgtype: str) -> bytes:
        return self.store.serialize_cdr(msg, msgtype)

    def make(self, msgtype: str, **fields: Any) -> Any:
        _, defs = self.store.fielddefs[msgtype]
        values = {}
        for name, desc in defs:
            values[name] = self._coerce(desc, fields.pop(name)) if name in fields else self._default(desc)
        if fields:
            raise TypeError(f"{msgtype} has no fields {sorted(fields)}")
        return self.store.types[msgtype](**values)

    def _default(self, desc: tuple) -> Any:
        from rosbags.typesys.base import Nodetype

        kind, rest = desc
        if kind == Nodetype.BASE:
            base = rest[0]
            return "" if base == "string" else False if base in ("bool", "boolean") else 0.0 if base.startswith("float") else 0
        if kind == Nodetype.NAME:
            return self.make(rest)
        (sub_kind, sub), length = rest
        if sub_kind == Nodetype.BASE and sub[0] != "string":
            return np.zeros(length if kind == Nodetype.ARRAY else 0, dtype=_PRIMITIVES[sub[0]][0])
        return [self._default((sub_kind, sub)) for _ in range(length if kind == Nodetype.ARRAY else 0)]

    @staticmethod
    def _coerce(desc: tuple, value: Any) -> Any:
        from rosbags.typesys.base import Nodetype

        kind, rest = desc
        if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            (sub_kind, sub), _ = rest
            if sub_kind == Nodetype.BASE and sub[0] != "string":
                dtype = _PRIMITIVES[sub[0]][0]
                if isinstance(value, (bytes, bytearray, memoryview)):
                    return np.frombuffer(value, dtype=dtype)
                return np.asarray(value, dtype=dtype)
        return value


def register_interfaces(store: Any, interface_dir: Path) -> tuple[str, ...]:
    """Add ``interface_dir/*.msg`` as ``vdpm_ros/msg/<Name>`` to a rosbags typestore; returns the type names."""
    from rosbags.typesys import get_types_from_msg

    types: dict = {}
    for path in sorted(Path(interface_dir).glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"vdpm_ros/msg/{path.stem}"))
    store.register(types)
    return tuple(sorted(types))
