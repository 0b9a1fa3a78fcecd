"""Validation helpers shared by the object stage's configs (one clear ValueError per bad field)."""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    # bool is an int subclass; accepting True as "1" would hide a mistyped parameter.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{owner}.{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}.{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(
    owner: str, name: str, value: Any, minimum: float | None = None, strict: bool = False, maximum: float | None = None
) -> float:
    """A finite real number, optionally ``>= minimum`` (``> minimum`` when ``strict``) and ``<= maximum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{owner}.{name} must be a finite number, got {value!r}")
    value = float(value)
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{owner}.{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{owner}.{name} must be <= {maximum}, got {value}")
    return value


def check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{owner}.{name} must be one of {choices}, got {value!r}")
    return value
