"""Timing, FLOP counting, precision contexts and the per-step JSON writer shared by the steps."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path


def preset_config(name: str):
    from ...model import AggregatorConfig, CameraHeadConfig, DecoderConfig, PatchEmbedConfig, PointHeadConfig, VDPMConfig
    from ...model.presets import preset

    if name == "micro":  # the test suite's 42-pixel model: exports in seconds
        return VDPMConfig(
            img_size=42, embed_dim=16, intermediate_layer_idx=(0, 1, 2, 3), patch_embed=PatchEmbedConfig(depth=1, num_heads=2),
            aggregator=AggregatorConfig(depth=4, num_heads=2), decoder=DecoderConfig(depth=1, num_heads=2),
            point_head=PointHeadConfig(features=8, out_channels=(4, 8, 16, 16)), camera_head=CameraHeadConfig(trunk_depth=1, num_heads=2),
        )  # fmt: skip
    return preset(name)


def random_model(name: str, device: str, seed: int = 0):
    """A random-weight model built directly on ``device`` (a full-size one never passes through host memory)."""
    import torch

    from ...model import VDPM

    torch.manual_seed(seed)
    with torch.device(device):
        model = VDPM(preset_config(name))
    return model.eval().requires_grad_(False)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_ms(fn: Callable[[], object], device: str, repeats: int, warmup: int) -> list[float]:
    """Wall time of ``fn`` per call in ms: CUDA events on a GPU, perf_counter on the CPU."""
    import torch

    for _ in range(warmup):
        fn()
    sync(device)
    out = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            out.append(float(start.elapsed_time(end)))
        else:
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1e3)
    return out


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return float(s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2]))


def autocast(device: str, dtype_name: str):
    import torch

    if dtype_name == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name])


def flash_attention(device: str):
    """SDPA restricted to flash attention where it can run (CUDA); elsewhere the default choice."""
    if not device.startswith("cuda"):
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION])


def count_flops(fn: Callable[[], object]) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


class StepWriter:
    """A step's results, rewritten to its JSON file after every addition (a timeout keeps what was done)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict = {}

    def put(self, **values) -> None:
        self.data.update(values)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        tmp.replace(self.path)
