"""fp16/bf16 exports: the mixed-precision policy, what ONNX Runtime's CPU provider runs, and its errors."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from vdpm_ros.export.audit import audit_graph
from vdpm_ros.export.onnx_export import export_onnx
from vdpm_ros.export.parity import check_window, compare, pytorch_outputs
from vdpm_ros.export.precision import LowPrecisionAttention, LowPrecisionConv2d, LowPrecisionLinear, apply_precision
from vdpm_ros.model import VDPM
from vdpm_ros.runtime import EngineUnavailableError, load_engine

HW = (28, 42)


@pytest.fixture(scope="module")
def model(micro_config):
    torch.manual_seed(7)
    return VDPM(micro_config).eval()


@pytest.fixture(scope="module")
def window():
    return check_window(3, HW, seed=2)


@pytest.fixture(scope="module")
def fp32_outputs(model, window):
    return pytorch_outputs(model, HW, window)


@pytest.mark.parametrize("dtype, low", [("fp16", torch.float16), ("bf16", torch.bfloat16)])
def test_matmuls_go_low_while_norms_softmax_and_heads_stay_fp32(model, dtype, low):
    policy = apply_precision(copy.deepcopy(model), dtype)
    for part in (policy.aggregator, policy.decoder):
        assert not any(type(m) is nn.Linear for m in part.modules())
        assert any(isinstance(m, LowPrecisionAttention) for m in part.modules())
        for m in part.modules():
            if isinstance(m, LowPrecisionLinear):
                assert m.weight.dtype == low
            if isinstance(m, nn.LayerNorm) and m.weight is not None:
                assert m.weight.dtype == torch.float32
    # ONNX Conv has no bfloat16 at opsets <= 20: the patch projection stays fp32 for bf16
    conv = policy.aggregator.patch_embed.patch_embed.proj
    assert isinstance(conv, LowPrecisionConv2d) if dtype == "fp16" else conv.weight.dtype == torch.float32
    for head in (policy.point_head, policy.camera_head):
        assert all(p.dtype == torch.float32 for p in head.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the original is untouched


@pytest.mark.parametrize("dtype, bound", [("fp16", 5e-3), ("bf16", 5e-2)])
def test_policy_in_pytorch_stays_close_to_fp32(model, window, fp32_outputs, dtype, bound):
    report = compare(pytorch_outputs(apply_precision(copy.deepcopy(model), dtype), HW, window), fp32_outputs)
    assert 0 < report.max_abs < bound, report.table()  # really reduced, and not far off


def _initializer_types(path) -> dict[str, int]:
    graph = onnx.load(str(path), load_external_data=False).graph
    return {t.name: t.data_type for t in graph.initializer}


def test_fp16_export_runs_on_the_onnxruntime_cpu_provider(model, window, fp32_outputs, tmp_path):
    manifest = export_onnx(model, tmp_path, HW, dtype="fp16", source="micro seed 7")
    assert manifest.dtype == "fp16" and manifest.io_dtype == "fp32"
    assert all(check["problems"] == [] for check in manifest.graph_checks.values()), manifest.graph_checks
    types = _initializer_types(tmp_path / "encoder.onnx")
    assert onnx.TensorProto.FLOAT16 in types.values() and onnx.TensorProto.FLOAT in types.values()
    graph = onnx.load(str(tmp_path / "encoder.onnx"), load_external_data=False).graph
    assert {i.type.tensor_type.elem_type for i in [*graph.input, *graph.output]} == {onnx.TensorProto.FLOAT}

    engine = load_engine(tmp_path, device="cpu").model
    got = engine.graph_outputs(window.images, window.cond_times, window.frames)
    report = compare(got, fp32_outputs)
    assert 0 < report.max_abs < 5e-3, report.table()
    # the streaming API runs on it too
    state = engine.encode(torch.from_numpy(window.images))
    maps = engine.decode(state, [0, 2], frames=[2])
    assert maps.pts3d.dtype == torch.float32 and np.isfinite(maps.pts3d.numpy()).all()
    assert next(model.parameters()).dtype == torch.float32  # the export converted a copy


def test_bf16_export_is_valid_and_refused_by_the_cpu_provider_with_a_clear_error(model, tmp_path):
    manifest = export_onnx(model, tmp_path, HW, dtype="bf16", source="micro seed 7")
    for name in ("encoder", "decoder"):
        audit = audit_graph(tmp_path / f"{name}.onnx")
        assert audit.problems == [], audit.problems  # checker, shape inference, TensorRT 10 types (BF16 listed)
    assert onnx.TensorProto.BFLOAT16 in _initializer_types(tmp_path / "decoder.onnx").values()
    assert manifest.dtype == "bf16"
    with pytest.raises(
        EngineUnavailableError, match=r"encoder\.onnx: ONNX Runtime .* cannot run this bf16 encoder graph .*MatMul.*CUDA provider"
    ):
        load_engine(tmp_path, device="cpu")
