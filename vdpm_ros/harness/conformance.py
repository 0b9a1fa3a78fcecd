"""Reproduce a reference fixture (config.json, weights.safetensors, inputs.npz) with our implementation.

The output arrays carry the same names as the fixture's ``outputs.npz`` so the two can be compared
array by array; see tests/fixtures/reference/tiny/README.md for their meaning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..export.onnx_export import export_onnx
from ..geometry import pose_encoding_to_cameras
from ..model import VDPMConfig
from ..model.checkpoint import load_model
from ..runtime import load_engine


def load_fixture_inputs(fixture_dir: str | Path) -> dict[str, np.ndarray]:
    with np.load(Path(fixture_dir) / "inputs.npz") as data:
        return {k: data[k] for k in data.files}


#: Arrays that exist only inside the PyTorch model (an exported engine does not expose them).
INTERNAL_ARRAYS = ("aggregator_tokens", "decoder_tokens_t0")


def run_conformance(fixture_dir: str | Path, engine: str = "pytorch", work_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """Build the fixture's model from its config.json, load its weights strictly and compute every output.

    With ``engine="onnxruntime"`` the model is exported to ONNX (into ``work_dir``, a temporary directory
    by default) and every output comes from ONNX Runtime through the same streaming API.
    """
    fixture_dir = Path(fixture_dir)
    if not fixture_dir.is_dir():
        raise FileNotFoundError(f"fixture directory {fixture_dir} does not exist (the reference fixture is tests/fixtures/reference/tiny)")
    for name in ("config.json", "weights.safetensors", "inputs.npz"):
        if not (fixture_dir / name).is_file():
            raise FileNotFoundError(f"fixture directory {fixture_dir} has no {name}")
    if engine not in ("pytorch", "onnxruntime"):
        raise ValueError(f"engine must be pytorch or onnxruntime, got {engine!r}")
    config = VDPMConfig.from_fixture_json(json.loads((fixture_dir / "config.json").read_text()))
    model, _ = load_model(fixture_dir / "weights.safetensors", config)
    inputs = load_fixture_inputs(fixture_dir)
    images = torch.from_numpy(inputs["images"]).float()
    if images.ndim != 5:
        raise ValueError(f"fixture images must be [B, S, 3, H, W], got {images.shape}")
    image_hw = (images.shape[-2], images.shape[-1])
    S = images.shape[1]

    out: dict[str, torch.Tensor] = {}
    runner = model
    if engine == "onnxruntime":
        import tempfile

        export_dir = Path(work_dir or tempfile.mkdtemp(prefix="vdpm_export_"))
        export_onnx(model, export_dir, image_hw, fixture_dir / "weights.safetensors")
        runner = load_engine(export_dir, "onnxruntime", device="cpu").model
    else:
        with torch.no_grad():
            layers = model.aggregator(images)
            out["aggregator_tokens"] = torch.stack([layers[i] for i in sorted(layers)])
    with torch.no_grad():
        state = runner.encode(images)
        dynamic = runner.decode(state)
        for j in range(S):
            out[f"pointmaps_t{j}_pts3d"] = dynamic.pts3d[:, j]
            out[f"pointmaps_t{j}_conf"] = dynamic.conf[:, j]
        static = runner.time_variant(state)
        out["static_pts3d"], out["static_conf"] = static.pts3d, static.conf
        if engine == "pytorch":
            zeros = torch.zeros(1, state.batch, S, dtype=torch.int64)
            out["decoder_tokens_t0"] = model.decode_tokens(state, zeros)[:, 0]
        if "forward_cond_view_idxs" in inputs:
            per_frame = runner.decode_per_frame(state, torch.from_numpy(inputs["forward_cond_view_idxs"]))
            out["forward_dynamic_pts3d"], out["forward_dynamic_conf"] = per_frame.pts3d, per_frame.conf
        cams = runner.cameras(state)
        out["pose_enc"] = cams.pose_enc
        out["pose_enc_list"] = cams.pose_enc_iterations
        out["extrinsics"], out["intrinsics"] = pose_encoding_to_cameras(cams.pose_enc, image_hw)
    return {k: v.float().numpy() for k, v in out.items()}


def compare_to_reference(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray], atol: float, rtol: float) -> list[str]:
    """Human-readable mismatches (empty when every reference array is reproduced within tolerance)."""
    problems = []
    for name, ref in reference.items():
        if name not in ours:
            problems.append(f"{name}: not produced")
            continue
        got = ours[name]
        if got.shape != ref.shape:
            problems.append(f"{name}: shape {got.shape} != reference {ref.shape}")
            continue
        if not np.allclose(got, ref, atol=atol, rtol=rtol):
            err = np.abs(got - ref)
            problems.append(f"{name}: max abs err {err.max():.3g} (allowed {atol} + {rtol} * |ref|)")
    return problems
