"""The runtime's error types, apart from the engines so that every engine module can raise them."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """A model cannot be loaded or run here: the message names the file, what is wrong and what to do.

    :func:`vdpm_ros.runtime.resolve_model` raises only this (wrapping checkpoint, export, engine and
    path errors), so the node and every command catch one type.
    """


class EngineUnavailableError(ModelLoadError):
    """The requested engine, device or execution provider is not installed or cannot run here."""
