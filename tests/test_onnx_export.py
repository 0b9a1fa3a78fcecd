"""ONNX export + ONNX Runtime: parity with the official fixture and with PyTorch, dynamic S, clear mismatches."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vdpm_ros.cli.main import main
from vdpm_ros.export.manifest import ExportManifest, ExportMismatchError
from vdpm_ros.export.onnx_export import export_onnx
from vdpm_ros.harness.conformance import compare_to_reference, run_conformance
from vdpm_ros.model import VDPMConfig
from vdpm_ros.paths import default_model_path
from vdpm_ros.runtime import EngineUnavailableError, load_engine

ATOL = RTOL = 1e-4  # the fp32 parity tolerance


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory, reference_dir):
    work = tmp_path_factory.mktemp("ort")
    outputs = run_conformance(reference_dir / "tiny", engine="onnxruntime", work_dir=work)
    return work, outputs


def test_onnxruntime_reproduces_the_official_fixture(tiny_export, tiny_outputs):
    _, ours = tiny_export
    reference = {k: v for k, v in tiny_outputs.items() if k not in ("aggregator_tokens", "decoder_tokens_t0")}
    assert len(reference) == 14
    assert compare_to_reference(ours, reference, ATOL, RTOL) == []


def test_manifest_records_the_export(tiny_export, tiny_config):
    work, _ = tiny_export
    m = ExportManifest.read(work)
    assert m.image_hw == (56, 84) and m.dtype == "fp32" and m.opset == 18 and len(m.source_sha256) == 64
    assert VDPMConfig.from_dict(m.model_config) == tiny_config
    assert m.inputs["decoder"]["cond_times"] == ["Q", "S"]


def test_the_fixture_graphs_use_only_tensorrt_10_operators_and_no_forbidden_one(tiny_export):
    from vdpm_ros.export.audit import FORBIDDEN_OPS
    from vdpm_ros.export.tensorrt_ops import SUPPORTED_TYPES

    work, _ = tiny_export
    for name, check in ExportManifest.read(work).graph_checks.items():
        ops = set(check["op_counts"])
        assert check["problems"] == [], (name, check["problems"])
        assert ops and ops <= set(SUPPORTED_TYPES) and not ops & FORBIDDEN_OPS, (name, sorted(ops))


def test_dynamic_window_size_and_selection_match_pytorch(tiny_export, tiny_model):
    work, _ = tiny_export
    loaded = load_engine(work)
    assert loaded.kind == "onnxruntime" and loaded.device == "cpu" and "56" in loaded.description
    engine = loaded.model
    for S in (2, 5):
        images = torch.rand(S, 3, 56, 84, generator=torch.Generator().manual_seed(S))
        with torch.no_grad():
            ref_state = tiny_model.encode(images)
            ref = tiny_model.decode(ref_state, [S - 1, 0], frames=[S - 1])
            ref_cam = tiny_model.cameras(ref_state).pose_enc
        state = engine.encode(images)
        got = engine.decode(state, [S - 1, 0], frames=[S - 1])
        torch.testing.assert_close(got.pts3d, ref.pts3d, atol=ATOL, rtol=RTOL)
        torch.testing.assert_close(got.conf, ref.conf, atol=ATOL, rtol=RTOL)
        torch.testing.assert_close(engine.cameras(state).pose_enc, ref_cam, atol=1e-5, rtol=1e-5)


def test_wrong_image_size_is_a_clear_error(tiny_export):
    work, _ = tiny_export
    with pytest.raises(ExportMismatchError, match="re-export with --height 70 --width 84"):
        load_engine(work).model.encode(torch.rand(3, 3, 70, 84))


def test_damaged_exports_are_refused(tiny_export, tmp_path):
    work, _ = tiny_export
    broken = tmp_path / "broken"
    shutil.copytree(work, broken)
    data = json.loads((broken / "manifest.json").read_text())
    data["format_version"] = 99
    (broken / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ExportMismatchError, match="format version 99"):
        load_engine(broken)
    shutil.copytree(work, tmp_path / "nodecoder")
    (tmp_path / "nodecoder" / "decoder.onnx").unlink()
    with pytest.raises(ExportMismatchError, match="decoder graph decoder.onnx"):
        load_engine(tmp_path / "nodecoder")
    with pytest.raises(ExportMismatchError, match="no manifest.json"):
        load_engine(tmp_path, engine="onnxruntime")


def test_unavailable_provider_names_what_is_missing(tiny_export):
    work, _ = tiny_export
    with pytest.raises(EngineUnavailableError, match="TensorrtExecutionProvider"):
        load_engine(work, providers=["TensorrtExecutionProvider"])
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(EngineUnavailableError, match="onnxruntime-gpu"):
            load_engine(work, device="cuda")
        assert load_engine(work, device="auto").device == "cpu"


def test_engine_selection_errors_say_what_to_fix(tiny_export, tmp_path):
    work, _ = tiny_export
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_engine(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="engine must be one of"):
        load_engine(work, engine="tensorrt")
    with pytest.raises(ValueError, match="the pytorch engine needs a checkpoint file"):
        load_engine(work, engine="pytorch")
    checkpoint = default_model_path()  # our checkpoints carry their config; the fixture's weights do not
    loaded = load_engine(checkpoint, device="cpu")
    assert loaded.kind == "pytorch" and loaded.device == "cpu" and not loaded.decoder_untrained
    assert f"{sum(p.numel() for p in loaded.model.parameters()):,} parameters" in loaded.description
    if not torch.cuda.is_available():
        with pytest.raises(EngineUnavailableError, match="no CUDA device"):
            load_engine(checkpoint, device="cuda")
    with pytest.raises(ValueError, match="device must be"):
        load_engine(checkpoint, device="gpu")


def test_unsupported_export_dtype_is_refused(tiny_model, tmp_path):
    with pytest.raises(ValueError, match="choose one of fp32, fp16, bf16"):
        export_onnx(tiny_model, tmp_path, (56, 84), dtype="int8")


def test_conformance_command_with_onnxruntime(tiny_export, reference_dir, tmp_path, capsys, monkeypatch):
    import vdpm_ros.harness.conformance as conformance

    # The command's own export of the fixture model is the module's `tiny_export` (the same function made it):
    # reuse it instead of spending another minute, and check the command asked for exactly that export.
    asked = []

    def reuse(model, out_dir, image_hw, weights):
        asked.append((tuple(image_hw), weights))
        shutil.copytree(tiny_export[0], out_dir, dirs_exist_ok=True)
        return ExportManifest.read(out_dir)

    monkeypatch.setattr(conformance, "export_onnx", reuse)
    out = tmp_path / "o.npz"
    assert main(["conformance", str(reference_dir / "tiny"), "--engine", "onnxruntime", "--out", str(out)]) == 0
    assert asked == [(ExportManifest.read(tiny_export[0]).image_hw, reference_dir / "tiny" / "weights.safetensors")]
    text = capsys.readouterr().out
    assert "14/14 reference arrays reproduced" in text and "not exposed by the onnxruntime engine" in text
    assert set(np.load(out).files) >= {"pointmaps_t2_pts3d", "pose_enc_list", "forward_dynamic_conf"}
