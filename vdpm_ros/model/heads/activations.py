"""Output activations of the heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def inverse_log(y: Tensor) -> Tensor:
    """``sign(y) * (exp(|y|) - 1)``: linear near zero, exponential range for far points."""
    return torch.sign(y) * torch.expm1(torch.abs(y))


def exp_plus_one(y: Tensor) -> Tensor:
    """Confidence ``1 + exp(y)``, so it is always > 1 and ``log C`` is a valid regulariser."""
    return 1 + y.exp()


def activate(y: Tensor, kind: str) -> Tensor:
    """Named activation used by the camera head config (``linear``, ``relu``, ``exp``, ``inv_log``)."""
    if kind == "linear":
        return y
    if kind == "relu":
        return F.relu(y)
    if kind == "exp":
        return y.exp()
    if kind == "inv_log":
        return inverse_log(y)
    raise ValueError(f"unknown activation {kind!r}")
