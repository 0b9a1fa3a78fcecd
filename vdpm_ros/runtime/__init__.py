"""Inference engines with the model's streaming API (encode / cameras / decode / time_variant).

``resolve_model`` is the one door: the node, every command and the harnesses load models through it, so a
model spec, an engine name and a device mean the same thing everywhere, and one error type comes out.
"""

from .door import PRESET_PREFIX, ModelSettings, resolve_model
from .engine import ENGINES, LoadedEngine, load_engine, resolve_device
from .errors import EngineUnavailableError, ModelLoadError

__all__ = [
    "ENGINES",
    "PRESET_PREFIX",
    "EngineUnavailableError",
    "LoadedEngine",
    "ModelLoadError",
    "ModelSettings",
    "load_engine",
    "resolve_device",
    "resolve_model",
]
