"""Reduced-precision exports: what runs in fp16/bf16 and what stays in fp32.

The policy (applied in place by :func:`apply_precision` before tracing):

- Every ``nn.Linear`` of the backbone (DINOv2 patch embedding and aggregator) and of the decoder keeps
  its weight in the low dtype and multiplies in it: ``linear(x.to(low), W_low, b_low).float()``. The
  attention products ``q k^T`` and ``softmax(.) v`` run in the low dtype too. That is where the FLOPs and
  the weight bytes are.
- Everything else stays float32: the residual stream, LayerNorm (with its fp32 parameters), the softmax
  (its scores are upcast first), GELU/SiLU, LayerScale, adaLN modulation arithmetic and RoPE (tables in
  fp32). These are the operations whose range or rounding hurts in fp16, and they are cheap.
- The camera head and the whole DPT point head stay float32, as the official code runs them outside
  bf16 autocast: the head's ``expm1``/``exp`` activations amplify any rounding of their inputs.
- The patch projection (a 14x14 stride-14 convolution) runs in fp16 for fp16 exports and stays fp32 for
  bf16 ones: ONNX ``Conv`` has no bfloat16 type at the opsets TensorRT 10 parses (<= 20).

Graph inputs and outputs stay float32, so an fp16/bf16 export is a drop-in replacement for an fp32 one.

This is the same split as ``torch.autocast`` gives the PyTorch path (matmuls low, norms and softmax in
fp32, heads outside autocast), made explicit so the exported graph carries it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..model import VDPM
from ..model.layers import Attention

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class LowPrecisionLinear(nn.Module):
    """``nn.Linear`` whose weight and product are in ``dtype``; takes and returns float32.

    Keeps the parameter names ``weight`` and ``bias`` so the graph's initializers keep the model's names.
    """

    def __init__(self, linear: nn.Linear, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.weight = nn.Parameter(linear.weight.detach().to(dtype), requires_grad=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().to(dtype), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x.to(self.dtype), self.weight, self.bias).float()


class LowPrecisionConv2d(nn.Module):
    """``nn.Conv2d`` (no groups/dilation) computed in ``dtype``; takes and returns float32."""

    def __init__(self, conv: nn.Conv2d, dtype: torch.dtype) -> None:
        super().__init__()
        if conv.groups != 1 or conv.dilation != (1, 1) or conv.padding_mode != "zeros":
            raise ValueError("LowPrecisionConv2d supports plain convolutions only")
        self.dtype = dtype
        self.stride, self.padding = conv.stride, conv.padding
        self.weight = nn.Parameter(conv.weight.detach().to(dtype), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().to(dtype), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x.to(self.dtype), self.weight, self.bias, self.stride, self.padding).float()


class LowPrecisionAttention(nn.Module):
    """:class:`Attention` with its two products in ``dtype`` and the softmax in float32.

    Written out instead of ``scaled_dot_product_attention``: the exporter lowers SDPA to
    MatMul-Softmax-MatMul in the inputs' dtype, which would put the softmax in fp16/bf16.
    """

    def __init__(self, attention: Attention, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.num_heads, self.head_dim = attention.num_heads, attention.head_dim
        self.qkv = LowPrecisionLinear(attention.qkv, dtype)
        self.q_norm, self.k_norm = attention.q_norm, attention.k_norm
        self.proj = LowPrecisionLinear(attention.proj, dtype)
        self.rope = attention.rope

    def forward(self, x: Tensor, positions=None) -> Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.rope is not None:
            q = self.rope(q, positions)
            k = self.rope(k, positions)
        q = q * self.head_dim**-0.5
        scores = torch.matmul(q.to(self.dtype), k.to(self.dtype).transpose(-2, -1)).float()
        weights = scores.softmax(dim=-1).to(self.dtype)
        out = torch.matmul(weights, v.to(self.dtype)).float()
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


def _convert(module: nn.Module, dtype: torch.dtype, convs: bool) -> None:
    """Replace the matmul modules under ``module`` (in place, depth first)."""
    for name, child in list(module.named_children()):
        if isinstance(child, Attention):
            setattr(module, name, LowPrecisionAttention(child, dtype))
        elif isinstance(child, nn.Linear):
            setattr(module, name, LowPrecisionLinear(child, dtype))
        elif isinstance(child, nn.Conv2d) and convs:
            setattr(module, name, LowPrecisionConv2d(child, dtype))
        else:
            _convert(child, dtype, convs)


def apply_precision(model: VDPM, precision: str) -> VDPM:
    """Apply the module docstring's policy to ``model`` in place (a float32 model) and return it.

    The float32 copies of the converted weights are dropped as each module is replaced, so a full-size
    model never holds both copies. ``fp32`` leaves the model untouched.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return model
    dtype = PRECISIONS[precision]
    for part in (model.aggregator, model.decoder):
        _convert(part, dtype, convs=dtype == torch.float16)
    return model
