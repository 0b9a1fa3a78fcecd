"""DPT point head: four token layers -> dense xyz + confidence at full image resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import VDPMConfig
from .activations import exp_plus_one, inverse_log


def uv_grid(grid_h: int, grid_w: int, aspect: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Normalised cell-centre coordinates ``[grid_h, grid_w, 2]`` (u, v) spanning the image diagonal-normalised."""
    diag = (aspect**2 + 1.0) ** 0.5
    span_x, span_y = aspect / diag, 1.0 / diag
    xs = torch.linspace(-span_x * (grid_w - 1) / grid_w, span_x * (grid_w - 1) / grid_w, grid_w, dtype=dtype, device=device)
    ys = torch.linspace(-span_y * (grid_h - 1) / grid_h, span_y * (grid_h - 1) / grid_h, grid_h, dtype=dtype, device=device)
    return torch.stack([xs[None, :].expand(grid_h, -1), ys[:, None].expand(-1, grid_w)], dim=-1)


def sincos_embedding(uv: Tensor, channels: int, omega_0: float = 100.0) -> Tensor:
    """``uv [h, w, 2]`` -> ``[channels, h, w]``: sin/cos of u in the first half, of v in the second.

    Computed in float64 and rounded once, which is what the trained weights saw.
    """
    quarter = channels // 4
    omega = 1.0 / omega_0 ** (torch.arange(quarter, dtype=torch.float64, device=uv.device) / quarter)
    parts = []
    for axis in range(2):
        angles = uv[..., axis].reshape(-1).double()[:, None] * omega[None, :]
        parts += [angles.sin(), angles.cos()]
    emb = torch.cat(parts, dim=-1).float()
    return emb.reshape(*uv.shape[:2], channels).permute(2, 0, 1)


class ResidualConvUnit(nn.Module):
    """``relu(x) + conv2(relu(conv1(relu(x))))``.

    The official unit applies an in-place ReLU to its input before the skip connection, so the skip
    carries relu(x), not x; the released weights were trained that way.
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(x)
        return self.conv2(F.relu(self.conv1(x))) + x


class FusionBlock(nn.Module):
    """Adds a refined skip feature (if any), refines, upsamples (x2 or to ``size``), projects."""

    def __init__(self, features: int, has_residual: bool = True) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1)
        if has_residual:
            self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)
        self.has_residual = has_residual

    def forward(self, x: Tensor, skip: Tensor | None = None, size: tuple[int, int] | None = None) -> Tensor:
        if self.has_residual:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            size = (x.shape[-2] * 2, x.shape[-1] * 2)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class Scratch(nn.Module):
    """Container that exists only to reproduce the official parameter names (``point_head.scratch.*``)."""

    def __init__(self, in_channels: tuple[int, ...], features: int, head_hidden: int, output_dim: int) -> None:
        super().__init__()
        for i, c in enumerate(in_channels, start=1):
            setattr(self, f"layer{i}_rn", nn.Conv2d(c, features, 3, padding=1, bias=False))
        self.refinenet1 = FusionBlock(features)
        self.refinenet2 = FusionBlock(features)
        self.refinenet3 = FusionBlock(features)
        self.refinenet4 = FusionBlock(features, has_residual=False)
        self.output_conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        self.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, head_hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(head_hidden, output_dim, 1),
        )


class DPTHead(nn.Module):
    """Patch tokens of 4 layers -> points ``[N, H, W, 3]`` ("inv_log") and confidence ``[N, H, W]`` ("expp1").

    Frames are independent here (only convolutions), so any subset of frames can be decoded alone.
    """

    HEAD_HIDDEN = 32
    OUTPUT_DIM = 4

    def __init__(self, config: VDPMConfig) -> None:
        super().__init__()
        cfg = config.point_head
        dim_in = 2 * config.embed_dim
        oc = cfg.out_channels
        self.patch_size = config.patch_size
        self.pos_embed = cfg.pos_embed
        self.frames_chunk_size = cfg.frames_chunk_size
        self.norm = nn.LayerNorm(dim_in)
        self.projects = nn.ModuleList(nn.Conv2d(dim_in, c, 1) for c in oc)
        # Brings the four layers to 4x, 2x, 1x and 1/2x the patch grid.
        self.resize_layers = nn.ModuleList(
            [
                nn.ConvTranspose2d(oc[0], oc[0], kernel_size=4, stride=4),
                nn.ConvTranspose2d(oc[1], oc[1], kernel_size=2, stride=2),
                nn.Identity(),
                nn.Conv2d(oc[3], oc[3], kernel_size=3, stride=2, padding=1),
            ]
        )
        self.scratch = Scratch(oc, cfg.features, self.HEAD_HIDDEN, self.OUTPUT_DIM)

    def _add_pos_embed(self, x: Tensor, aspect: float) -> Tensor:
        if not self.pos_embed:
            return x
        uv = uv_grid(x.shape[-2], x.shape[-1], aspect, x.dtype, x.device)
        return x + 0.1 * sincos_embedding(uv, x.shape[1]).to(x.dtype)[None]

    def _features(self, layers: list[Tensor], image_hw: tuple[int, int]) -> Tensor:
        H, W = image_hw
        gh, gw = H // self.patch_size, W // self.patch_size
        aspect = W / H
        feats = []
        for x, project, resize in zip(layers, self.projects, self.resize_layers):
            x = self.norm(x)
            x = x.permute(0, 2, 1).reshape(x.shape[0], x.shape[-1], gh, gw)
            feats.append(resize(self._add_pos_embed(project(x), aspect)))
        s = self.scratch
        l1, l2, l3, l4 = (getattr(s, f"layer{i}_rn")(f) for i, f in enumerate(feats, start=1))
        out = s.refinenet4(l4, size=tuple(l3.shape[-2:]))
        out = s.refinenet3(out, l3, size=tuple(l2.shape[-2:]))
        out = s.refinenet2(out, l2, size=tuple(l1.shape[-2:]))
        out = s.refinenet1(out, l1)
        out = s.output_conv1(out)
        out = F.interpolate(out, size=(gh * self.patch_size, gw * self.patch_size), mode="bilinear", align_corners=True)
        return self._add_pos_embed(out, aspect)

    def forward(self, layers: list[Tensor], image_hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Args:
            layers: 4 tensors ``[N, gh * gw, 2C]``: patch tokens (special tokens removed) per frame.
            image_hw: (H, W) of the network input.

        Returns:
            points ``[N, H, W, 3]`` and confidence ``[N, H, W]``.
        """
        n = layers[0].shape[0]
        chunk = self.frames_chunk_size
        out = [self.predict([x[start : start + chunk] for x in layers], image_hw) for start in range(0, n, chunk)]
        return torch.cat([p for p, _ in out]), torch.cat([c for _, c in out])

    def predict(self, layers: list[Tensor], image_hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Like :meth:`forward` but all frames in one batch (no chunk loop, so it exports with a dynamic batch)."""
        raw = self.scratch.output_conv2(self._features(layers, image_hw)).permute(0, 2, 3, 1)
        return inverse_log(raw[..., :3]), exp_plus_one(raw[..., 3])
