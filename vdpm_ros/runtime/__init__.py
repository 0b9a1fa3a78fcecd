"""Inference engines with the model's streaming API (encode / cameras / decode / time_variant).

``load_engine`` picks one by name; the pipeline, the node, the evaluation and the benchmark accept any
of them because they only use that API.
"""

from .engine import ENGINES, EngineUnavailableError, LoadedEngine, load_engine, resolve_device

__all__ = ["ENGINES", "EngineUnavailableError", "LoadedEngine", "load_engine", "resolve_device"]
