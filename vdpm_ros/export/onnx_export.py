"""``export_onnx``: a V-DPM checkpoint -> encoder.onnx + decoder.onnx + manifest.json.

Number of frames S (and the number of queries and decoded frames) is dynamic; H and W are fixed per
export, which lets the DINOv2 position-embedding resampling fold into a constant. Graphs above
~1.8 GB are written with external data (the 2 GB protobuf limit).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from .. import __version__
from ..model import VDPM
from .graphs import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS, DecoderGraph, EncoderGraph
from .manifest import ExportManifest, sha256_of

log = logging.getLogger(__name__)
EXTERNAL_DATA_BYTES = 1_800_000_000
SUPPORTED_DTYPES = ("fp32",)


def _quiet_exporter_logs() -> None:
    # The exporter's graph passes log every folded initializer at INFO; keep the user's log readable.
    for name in ("onnx_ir", "onnxscript", "torch.onnx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _export(module: torch.nn.Module, args: tuple, path: Path, inputs, outputs, dynamic: dict, opset: int, external: bool) -> None:
    torch.onnx.export(
        module, args, str(path), input_names=list(inputs), output_names=list(outputs), dynamic_shapes=dynamic,
        dynamo=True, opset_version=opset, external_data=external, verbose=False,
    )  # fmt: skip


def export_onnx(
    model: VDPM,
    out_dir: str | Path,
    image_hw: tuple[int, int],
    checkpoint: str | Path | None = None,
    dtype: str = "fp32",
    opset: int = 18,
    preprocess_mode: str = "crop",
) -> ExportManifest:
    """Export ``model`` for network inputs of ``image_hw`` (multiples of the patch size)."""
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(
            f"--dtype {dtype}: this version exports fp32 graphs only; build fp16 engines from them with "
            "`vdpm build-engine` (TensorRT keeps normalisation layers in fp32) once available"
        )
    p = model.config.patch_size
    H, W = image_hw
    if H % p or W % p:
        raise ValueError(f"export size {H}x{W} must be a multiple of the patch size {p}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _quiet_exporter_logs()
    model = model.eval().float().cpu()
    external = sum(t.numel() * t.element_size() for t in model.state_dict().values()) > EXTERNAL_DATA_BYTES
    S = torch.export.Dim("S", min=2, max=256)
    Q = torch.export.Dim("Q", min=1, max=256)
    F = torch.export.Dim("F", min=1, max=256)
    S_ex = 3
    images = torch.rand(S_ex, 3, H, W)
    with torch.no_grad():
        enc_out = EncoderGraph(model)(images)
    log.info("exporting the encoder graph")
    _export(EncoderGraph(model), (images,), out_dir / "encoder.onnx", ENCODER_INPUTS, ENCODER_OUTPUTS, {"images": {0: S}}, opset, external)
    layer_tokens, _, time_tokens = enc_out[0], enc_out[1], enc_out[2]
    cond = torch.tensor([[0] * S_ex, [S_ex - 1] * S_ex])
    frames = torch.tensor([S_ex - 2, S_ex - 1])  # size 2: torch.export specialises dimensions of size 0 and 1
    dyn = {"layer_tokens": {1: S}, "time_tokens": {0: S}, "cond_times": {0: Q, 1: S}, "frames": {0: F}}
    log.info("exporting the decoder graph")
    _export(DecoderGraph(model, image_hw), (layer_tokens, time_tokens, cond, frames), out_dir / "decoder.onnx",
            DECODER_INPUTS, DECODER_OUTPUTS, dyn, opset, external)  # fmt: skip
    P = model.config.num_special_tokens + (H // p) * (W // p)
    C2 = 2 * model.config.embed_dim
    import onnx

    manifest = ExportManifest(
        model_config=model.config.to_dict(),
        image_hw=(H, W),
        preprocessing={"mode": preprocess_mode, "target_size": model.config.img_size, "patch_size": p},
        dtype=dtype,
        opset=opset,
        files={"encoder": "encoder.onnx", "decoder": "decoder.onnx"},
        inputs={
            "encoder": {"images": ["S", 3, H, W]},
            "decoder": {"layer_tokens": [4, "S", P, C2], "time_tokens": ["S", C2], "cond_times": ["Q", "S"], "frames": ["F"]},
        },
        outputs={
            "encoder": {"layer_tokens": [4, "S", P, C2], "camera_tokens": ["S", C2], "time_tokens": ["S", C2], "pose_enc_iterations": [model.config.camera_head.num_iterations, "S", 9],
                        "time_variant_pts3d": ["S", H, W, 3], "time_variant_conf": ["S", H, W]},
            "decoder": {"pts3d": ["Q", "F", H, W, 3], "conf": ["Q", "F", H, W]},
        },  # fmt: skip
        source_checkpoint=str(checkpoint) if checkpoint else "<in-memory model>",
        source_sha256=sha256_of(checkpoint) if checkpoint else "",
        versions={"vdpm_ros": __version__, "torch": torch.__version__, "onnx": onnx.__version__},
    )
    manifest.write(out_dir)
    return manifest
