"""Typed, self-describing settings: one declaration gives a field's default, description, bounds and choices.

Every configuration that users set (the pipeline's, the outputs', the model door's, the node's inputs) is
a frozen dataclass whose fields are declared with :func:`setting`. The ROS node declares one parameter per
field from that metadata, config/vdpm.yaml and docs/node.md are generated from it, and :func:`check_settings`
validates an instance with the same bounds, so nothing is written twice.

This module imports nothing from the project: everything may use it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

_KEY = "vdpm_setting"


@dataclass(frozen=True)
class SettingSpec:
    """One user-facing setting.

    Attributes:
        name: field name, which is also the ROS parameter name.
        default: default value (its Python type is the parameter's type).
        description: one line for ``ros2 param describe``, config/vdpm.yaml and docs/node.md.
        min / max: inclusive numeric bounds, or None.
        choices: the allowed values of a closed set, or None.
        node: declared as a ROS parameter of vdpm_node (False: a library-only knob).
        section: the configuration class that owns it (for grouping in YAML and docs).
    """

    name: str
    default: Any
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    node: bool = True
    section: str = ""

    @property
    def kind(self) -> type:
        """bool, int, float or str: the type a value must have (an int is accepted for a float)."""
        return type(self.default)


def setting(
    default: Any,
    description: str,
    *,
    min: float | None = None,  # noqa: A002 - the natural name in a declaration
    max: float | None = None,  # noqa: A002
    choices: Sequence | None = None,
    node: bool = True,
) -> Any:
    """A dataclass field carrying its :class:`SettingSpec` (name and section are filled in by :func:`specs`)."""
    if default is None or isinstance(default, (list, dict, set)):
        raise TypeError("a setting's default must be a bool, int, float or str (ROS parameters have no null)")
    meta = {"description": description, "min": min, "max": max, "choices": tuple(choices) if choices else None, "node": node}
    return dataclasses.field(default=default, metadata={_KEY: meta})


def specs(cls: type) -> list[SettingSpec]:
    """The settings declared on a dataclass (fields without :func:`setting` metadata are left out)."""
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_KEY)
        if meta is not None:
            out.append(SettingSpec(name=f.name, default=f.default, section=cls.__name__, **meta))
    return out


def iter_values(obj: Any) -> Iterator[tuple[SettingSpec, Any]]:
    for spec in specs(type(obj)):
        yield spec, getattr(obj, spec.name)


def coerce(spec: SettingSpec, value: Any, owner: str) -> Any:
    """``value`` checked against ``spec``; an int given for a float comes back as a float.

    Raises:
        ValueError: wrong type, out of bounds or not one of the choices, naming ``owner.name``.
    """
    where = f"{owner}.{spec.name}" if owner else spec.name
    kind = spec.kind
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be a bool (true or false), got {value!r}")
    elif kind is int:
        # bool is an int subclass; accepting True as "1" would hide a mistyped value.
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        value = int(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        value = float(value)
    elif kind is str and not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {value!r}")
    if spec.min is not None and value < spec.min:
        raise ValueError(f"{where} must be >= {spec.min}, got {value!r}")
    if spec.max is not None and value > spec.max:
        raise ValueError(f"{where} must be <= {spec.max}, got {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"{where} must be one of {', '.join(map(str, spec.choices))}, got {value!r}")
    return value


def check_settings(obj: Any) -> None:
    """Validate (and normalise in place) every setting of a frozen dataclass; call it from ``__post_init__``."""
    owner = type(obj).__name__
    for spec, value in iter_values(obj):
        object.__setattr__(obj, spec.name, coerce(spec, value, owner))


def from_mapping(cls: type, values: dict[str, Any], what: str | None = None) -> Any:
    """``cls(**values)`` that names unknown keys (typos must not pass silently) and the known ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what or cls.__name__} keys: {unknown}; known keys: {sorted(known)}")
    return cls(**values)
