"""``export_onnx``: a V-DPM model -> encoder.onnx + decoder.onnx + manifest.json.

Number of frames S (and the number of queries and decoded frames) is dynamic; H and W are fixed per
export, which lets every image-size-only computation fold into a constant (see :mod:`.constants`).
Graphs above ~1.8 GB are written with external data (``<graph>.onnx.data``, the 2 GB protobuf limit);
the exporter writes the weights tensor by tensor into that file, so a full-size export holds one copy of
the weights (plus the exporter's graph) in memory, not several.

Every written graph is checked (``onnx.checker``, shape inference, the operator audit of :mod:`.audit`)
and the result goes into the manifest's ``graph_checks``.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch

from .. import __version__
from ..model import VDPM
from .audit import audit_export
from .constants import frozen_graph_constants
from .graphs import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS, DecoderGraph, EncoderGraph
from .manifest import ExportManifest, external_data_files, sha256_of
from .precision import PRECISIONS, apply_precision

log = logging.getLogger(__name__)
EXTERNAL_DATA_BYTES = 1_800_000_000
SUPPORTED_DTYPES = tuple(PRECISIONS)
#: Frames of the window the graphs are traced with (any S >= 2 runs; torch.export specialises sizes 0 and 1).
TRACE_FRAMES = 3


def _quiet_exporter_logs() -> None:
    # The exporter's graph passes log every folded initializer at INFO; keep the user's log readable.
    for name in ("onnx_ir", "onnxscript", "torch.onnx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _export(module: torch.nn.Module, args: tuple, path: Path, inputs, outputs, dynamic: dict, opset: int, external: bool) -> None:
    torch.onnx.export(
        module, args, str(path), input_names=list(inputs), output_names=list(outputs), dynamic_shapes=dynamic,
        dynamo=True, opset_version=opset, external_data=external, verbose=False,
    )  # fmt: skip


def _weight_bytes(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def export_onnx(
    model: VDPM,
    out_dir: str | Path,
    image_hw: tuple[int, int],
    checkpoint: str | Path | None = None,
    dtype: str = "fp32",
    opset: int = 18,
    preprocess_mode: str = "crop",
    *,
    source: str | None = None,
    external_data: bool | None = None,
    in_place: bool = False,
) -> ExportManifest:
    """Export ``model`` for network inputs of ``image_hw`` (multiples of the patch size).

    Args:
        checkpoint: the file the weights came from (recorded with its SHA-256 in the manifest).
        dtype: ``fp32``, or ``fp16``/``bf16`` with the mixed-precision policy of :mod:`.precision`
            (graph inputs and outputs stay float32).
        source: what to record as the source when there is no checkpoint (e.g. random weights and seed).
        external_data: force (True) or forbid (False) external weight files; None decides by size.
        in_place: for fp16/bf16, convert ``model`` itself instead of a copy (a full-size model then
            never exists twice in memory; ``model`` is left in the export's precision).
    """
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"--dtype {dtype}: choose one of {', '.join(SUPPORTED_DTYPES)}")
    p = model.config.patch_size
    H, W = image_hw
    if H % p or W % p:
        raise ValueError(f"export size {H}x{W} must be a multiple of the patch size {p}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _quiet_exporter_logs()
    model = model.eval().float().cpu()
    if dtype != "fp32":
        model = apply_precision(model if in_place else copy.deepcopy(model), dtype)
    external = _weight_bytes(model) > EXTERNAL_DATA_BYTES if external_data is None else external_data
    for stale in ("encoder.onnx.data", "decoder.onnx.data"):  # an older export's weights must not linger
        (out_dir / stale).unlink(missing_ok=True)
    S = torch.export.Dim("S", min=2, max=256)
    Q = torch.export.Dim("Q", min=1, max=256)
    F = torch.export.Dim("F", min=1, max=256)
    S_ex = TRACE_FRAMES
    images = torch.rand(S_ex, 3, H, W, generator=torch.Generator().manual_seed(0))
    with frozen_graph_constants(model, image_hw):
        with torch.no_grad():
            enc_out = EncoderGraph(model)(images)
        log.info("exporting the encoder graph")
        _export(
            EncoderGraph(model).eval(),
            (images,),
            out_dir / "encoder.onnx",
            ENCODER_INPUTS,
            ENCODER_OUTPUTS,
            {"images": {0: S}},
            opset,
            external,
        )
        layer_tokens, time_tokens = enc_out[0], enc_out[2]
        del enc_out
        cond = torch.tensor([[0] * S_ex, [S_ex - 1] * S_ex])
        frames = torch.tensor([S_ex - 2, S_ex - 1])  # size 2: torch.export specialises dimensions of size 0 and 1
        dyn = {"layer_tokens": {1: S}, "time_tokens": {0: S}, "cond_times": {0: Q, 1: S}, "frames": {0: F}}
        log.info("exporting the decoder graph")
        _export(DecoderGraph(model, image_hw).eval(), (layer_tokens, time_tokens, cond, frames), out_dir / "decoder.onnx",
                DECODER_INPUTS, DECODER_OUTPUTS, dyn, opset, external)  # fmt: skip
    P = model.config.num_special_tokens + (H // p) * (W // p)
    C2 = 2 * model.config.embed_dim
    import onnx

    files = {"encoder": "encoder.onnx", "decoder": "decoder.onnx"}
    log.info("checking the graphs (onnx.checker, shape inference, operator audit)")
    audits = audit_export(out_dir, files)
    manifest = ExportManifest(
        motion_trained=getattr(model, "motion_trained", None),
        model_config=model.config.to_dict(),
        image_hw=(H, W),
        preprocessing={"mode": preprocess_mode, "target_size": model.config.img_size, "patch_size": p},
        dtype=dtype,
        io_dtype="fp32",
        opset=opset,
        files=files,
        external_data=external_data_files(out_dir, files),
        inputs={
            "encoder": {"images": ["S", 3, H, W]},
            "decoder": {"layer_tokens": [4, "S", P, C2], "time_tokens": ["S", C2], "cond_times": ["Q", "S"], "frames": ["F"]},
        },
        outputs={
            "encoder": {
                "layer_tokens": [4, "S", P, C2],
                "camera_tokens": ["S", C2],
                "time_tokens": ["S", C2],
                "pose_enc_iterations": [model.config.camera_head.num_iterations, "S", 9],
                "time_variant_pts3d": ["S", H, W, 3],
                "time_variant_conf": ["S", H, W],
            },
            "decoder": {"pts3d": ["Q", "F", H, W, 3], "conf": ["Q", "F", H, W]},
        },
        source_checkpoint=str(checkpoint) if checkpoint else (source or "<in-memory model>"),
        source_sha256=sha256_of(checkpoint) if checkpoint else "",
        graph_checks={name: audit.summary() for name, audit in audits.items()},
        versions={"vdpm_ros": __version__, "torch": torch.__version__, "onnx": onnx.__version__},
    )
    manifest.write(out_dir)
    return manifest
