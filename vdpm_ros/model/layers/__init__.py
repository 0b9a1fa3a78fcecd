"""Transformer building blocks shared by the aggregator, decoder and camera head."""

from .attention import Attention
from .block import Block
from .conditional_block import ConditionalBlock, Modulation
from .dinov2 import DinoV2
from .layer_scale import LayerScale
from .mlp import Mlp
from .rope import RotaryEmbedding2D, TokenPositions, token_positions

__all__ = [
    "Attention",
    "Block",
    "ConditionalBlock",
    "DinoV2",
    "LayerScale",
    "Mlp",
    "Modulation",
    "RotaryEmbedding2D",
    "TokenPositions",
    "token_positions",
]
