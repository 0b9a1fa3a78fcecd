"""The V-DPM aggregator: VGGT's alternating frame/global attention with a time-conditioning token."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .config import VDPMConfig
from .layers import Block, DinoV2, RotaryEmbedding2D, token_positions

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Index of each special token inside a frame's token sequence.
CAMERA_TOKEN = 0
TIME_TOKEN = 1


def _first_and_rest(token: Tensor, batch: int, frames: int) -> Tensor:
    """``[1, 2, n, C]`` -> ``[batch * frames, n, C]``: variant 0 for frame 0, variant 1 for the others.

    Frame 0 defines the world frame, so the network must be able to tell it apart.
    """
    first = token[:, :1].expand(batch, 1, *token.shape[2:])
    rest = token[:, 1:].expand(batch, frames - 1, *token.shape[2:])
    return torch.cat([first, rest], dim=1).reshape(batch * frames, *token.shape[2:])


class Aggregator(nn.Module):
    """Images ``[B, S, 3, H, W]`` in [0, 1] -> per-layer tokens ``[B, S, P, 2C]``.

    Each frame has ``P = 2 + R + (H/p)(W/p)`` tokens ordered camera, time-conditioning, R registers,
    patches. Layer ``i``'s output is the concatenation of frame-block ``i`` and global-block ``i``.
    """

    def __init__(self, config: VDPMConfig) -> None:
        super().__init__()
        cfg = config.aggregator
        dim = config.embed_dim
        self.patch_size = config.patch_size
        self.depth = cfg.depth
        self.num_special = config.num_special_tokens
        self.patch_embed = DinoV2(config.img_size, config.patch_size, dim, config.patch_embed)
        self.rope = RotaryEmbedding2D(cfg.rope_freq)

        def block() -> Block:
            return Block(dim, cfg.num_heads, cfg.mlp_ratio, cfg.init_values, qk_norm=cfg.qk_norm, rope=self.rope)

        self.frame_blocks = nn.ModuleList(block() for _ in range(cfg.depth))
        self.global_blocks = nn.ModuleList(block() for _ in range(cfg.depth))
        self.camera_token = nn.Parameter(torch.randn(1, 2, 1, dim) * 1e-6)
        self.register_token = nn.Parameter(torch.randn(1, 2, cfg.num_register_tokens, dim) * 1e-6)
        self.time_conditioning_token = nn.Parameter(torch.randn(1, 1, dim))
        self.register_buffer("_resnet_mean", torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1), persistent=False)
        self.register_buffer("_resnet_std", torch.tensor(IMAGENET_STD).view(1, 1, 3, 1, 1), persistent=False)

    def reset_buffers(self) -> None:
        """(Re)create the ImageNet normalisation constants next to the weights.

        They are not in the state dict, so a model built on the meta device and then given real
        weights (as ``load_model`` does) needs this call.
        """
        device = self.camera_token.device
        self._resnet_mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 1, 3, 1, 1)
        self._resnet_std = torch.tensor(IMAGENET_STD, device=device).view(1, 1, 3, 1, 1)

    def forward(self, images: Tensor, keep_layers: Sequence[int] | None = None) -> dict[int, Tensor]:
        """Run all blocks once.

        Args:
            images: ``[B, S, 3, H, W]`` RGB in [0, 1], H and W multiples of the patch size.
            keep_layers: layer indices whose outputs to return (all when None); the others are
                freed as soon as they are used, which is what keeps streaming memory small.

        Returns:
            ``{layer: tokens [B, S, P, 2C]}`` for the kept layers.
        """
        B, S, C_in, H, W = images.shape
        if C_in != 3:
            raise ValueError(f"expected 3 colour channels, got images of shape {tuple(images.shape)}")
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(f"image size {H}x{W} is not a multiple of the patch size {self.patch_size}")
        keep = set(range(self.depth)) if keep_layers is None else set(keep_layers)

        normalised = (images - self._resnet_mean) / self._resnet_std
        patches = self.patch_embed(normalised.reshape(B * S, 3, H, W))
        time_token = self.time_conditioning_token.expand(B * S, 1, -1)
        tokens = torch.cat(
            [
                _first_and_rest(self.camera_token, B, S),
                time_token,
                _first_and_rest(self.register_token, B, S),
                patches,
            ],
            dim=1,
        )
        P, C = tokens.shape[1:]
        grid = (H // self.patch_size, W // self.patch_size)
        frame_pos = token_positions(B * S, grid, self.num_special, images.device)
        global_pos = frame_pos.reshape(B, S * P, 2)

        outputs: dict[int, Tensor] = {}
        for i in range(self.depth):
            tokens = self.frame_blocks[i](tokens.reshape(B * S, P, C), frame_pos)
            frame_out = tokens.reshape(B, S, P, C)
            tokens = self.global_blocks[i](tokens.reshape(B, S * P, C), global_pos)
            if i in keep:
                outputs[i] = torch.cat([frame_out, tokens.reshape(B, S, P, C)], dim=-1)
        return outputs
