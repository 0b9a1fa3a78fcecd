"""The launch file's parameter arguments: they override the parameters file only when given.

launch_ros passes a parameter dict after ``params_file``, and the later source wins; a dict that always
held the arguments' defaults would silently replace what the user's ``params_file`` sets. So every such
argument defaults to the empty string, which means "not given". This module has no launch import so
that it can be tested where the launch packages are not installed.
"""

from __future__ import annotations

from typing import Any, Mapping

#: Launch argument -> the type of the node parameter it sets.
OVERRIDABLE: dict[str, type] = {"model_path": str, "engine": str, "window_size": int, "device": str, "use_sim_time": bool}


def parameter_overrides(arguments: Mapping[str, str]) -> dict[str, Any]:
    """Launch argument strings -> typed parameter overrides, leaving out the ones that were not given.

    Raises:
        ValueError: a value that does not parse as its parameter's type, naming the argument.
    """
    out: dict[str, Any] = {}
    for name, kind in OVERRIDABLE.items():
        text = arguments.get(name, "").strip()
        if not text:
            continue
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(f"launch argument {name}:={text!r} must be true or false")
            out[name] = text.lower() == "true"
        elif kind is int:
            try:
                out[name] = int(text)
            except ValueError:
                raise ValueError(f"launch argument {name}:={text!r} must be an integer") from None
        else:
            out[name] = text
    return out
