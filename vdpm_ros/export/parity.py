"""Parity of an export with PyTorch: the same window through both, every output compared.

The reference is the PyTorch model in float32 (whatever the export's precision), run through the same
two computations the graphs hold (:mod:`.graphs`), on a small window whose decoder query mirrors the
node's: target times {0, S-2, S-1} for the latest frame.

An element passes when ``|a - b| <= atol + rtol * |b|`` (``b`` the PyTorch value; equal infinities
pass, NaN never does), which is ``numpy.isclose``. Reported per array and overall: the largest absolute
difference, and the largest relative difference ``|a - b| / max(|b|, atol)`` (relative to ``atol``
where the reference is tinier than it, so values near zero do not blow it up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model import VDPM
from .graphs import DecoderGraph, EncoderGraph

DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-3


@dataclass(frozen=True)
class CheckWindow:
    """Inputs of one parity run.

    Attributes:
        images: ``[S, 3, H, W]`` float32 RGB in [0, 1] (random, seeded).
        cond_times: ``[Q, S]`` int64, one row per target time {0, S-2, S-1} (deduplicated).
        frames: ``[F]`` int64, the latest frame.
    """

    images: np.ndarray
    cond_times: np.ndarray
    frames: np.ndarray


def check_window(frames: int, image_hw: tuple[int, int], seed: int = 0) -> CheckWindow:
    if frames < 2:
        raise ValueError(f"a parity window needs at least 2 frames, got {frames}")
    images = torch.rand(frames, 3, *image_hw, generator=torch.Generator().manual_seed(seed)).numpy()
    times = sorted({0, frames - 2, frames - 1})
    cond = np.repeat(np.asarray(times, dtype=np.int64)[:, None], frames, axis=1)
    return CheckWindow(images, cond, np.asarray([frames - 1], dtype=np.int64))


@torch.no_grad()
def pytorch_outputs(model: VDPM, image_hw: tuple[int, int], window: CheckWindow) -> dict[str, np.ndarray]:
    """The graphs' outputs computed by ``model`` in PyTorch, keyed like ``OnnxRuntimeEngine.graph_outputs``."""
    from .graphs import DECODER_OUTPUTS, ENCODER_OUTPUTS

    enc = EncoderGraph(model)(torch.from_numpy(window.images))
    dec = DecoderGraph(model, image_hw)(enc[0], enc[2], torch.from_numpy(window.cond_times), torch.from_numpy(window.frames))
    out = {f"encoder.{name}": t.float().numpy() for name, t in zip(ENCODER_OUTPUTS, enc)}
    out.update({f"decoder.{name}": t.float().numpy() for name, t in zip(DECODER_OUTPUTS, dec)})
    return out


@dataclass(frozen=True)
class ArrayParity:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    mean_abs: float
    failing: int  # elements outside atol + rtol * |b|

    @property
    def passed(self) -> bool:
        return self.failing == 0


@dataclass(frozen=True)
class ParityReport:
    arrays: tuple[ArrayParity, ...]
    atol: float
    rtol: float

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.arrays)

    @property
    def max_abs(self) -> float:
        return max(a.max_abs for a in self.arrays)

    @property
    def max_rel(self) -> float:
        return max(a.max_rel for a in self.arrays)

    def line(self) -> str:
        """The one-line verdict ``vdpm export --check`` prints last."""
        return f"parity: max abs diff {self.max_abs:.3g}, max rel diff {self.max_rel:.3g}"

    def table(self) -> list[str]:
        rows = [f"{'output':34s} {'shape':>22s} {'max abs':>10s} {'max rel':>10s} {'mean abs':>10s}  verdict"]
        for a in self.arrays:
            verdict = "ok" if a.passed else f"FAIL ({a.failing} elements outside atol {self.atol:g} + rtol {self.rtol:g})"
            rows.append(f"{a.name:34s} {str(a.shape):>22s} {a.max_abs:10.3g} {a.max_rel:10.3g} {a.mean_abs:10.3g}  {verdict}")
        return rows


def compare(
    got: dict[str, np.ndarray], reference: dict[str, np.ndarray], atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL
) -> ParityReport:
    """Compare every reference array with ``got`` (missing or differently shaped arrays fail outright)."""
    if atol < 0 or rtol < 0:
        raise ValueError("atol and rtol must be >= 0")
    arrays = []
    for name, b in reference.items():
        a = got.get(name)
        if a is None or a.shape != b.shape:
            arrays.append(ArrayParity(name, tuple(b.shape), float("inf"), float("inf"), float("inf"), b.size or 1))
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        close = np.isclose(a64, b64, rtol=rtol, atol=atol)
        both_inf = np.isinf(a64) & np.isinf(b64) & (np.sign(a64) == np.sign(b64))
        diff = np.where(both_inf, 0.0, np.abs(a64 - b64))
        diff = np.where(np.isnan(diff), np.inf, diff)
        rel = diff / np.maximum(np.abs(np.where(np.isfinite(b64), b64, 0.0)), atol if atol > 0 else 1e-12)
        arrays.append(ArrayParity(name, tuple(b.shape), float(diff.max(initial=0.0)), float(rel.max(initial=0.0)),
                                  float(diff.mean()) if diff.size else 0.0, int((~close).sum())))  # fmt: skip
    return ParityReport(tuple(arrays), atol, rtol)
