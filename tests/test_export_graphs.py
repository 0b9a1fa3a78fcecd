"""Exported graphs that other runtimes accept: the audit, the frozen constants, damaged exports, the CLI check."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from vdpm_ros.cli.main import main
from vdpm_ros.export.audit import FORBIDDEN_OPS, audit_graph
from vdpm_ros.export.constants import frozen_graph_constants
from vdpm_ros.export.manifest import CorruptExportError, ExportManifest, ExportMismatchError
from vdpm_ros.export.parity import check_window, compare, pytorch_outputs
from vdpm_ros.export.tensorrt_ops import SOURCE, SUPPORTED_TYPES, UNSUPPORTED
from vdpm_ros.model import VDPM
from vdpm_ros.runtime import load_engine

HW = (28, 42)  # the image size of the shared `micro_export` (tests/conftest.py) and of this file's own models


def test_export_command_random_weights_check(micro_export, micro_config, tmp_path, monkeypatch, capsys):
    out, manifest, status, lines, args, seed = (micro_export.dir, micro_export.manifest, micro_export.status, micro_export.lines,
                                                micro_export.args, micro_export.seed)  # fmt: skip
    assert status == 0 and micro_export.hw == HW
    last = lines[-1]
    assert last.startswith("parity: max abs diff ") and ", max rel diff " in last
    assert float(last.split("max abs diff ")[1].split(",")[0]) < 1e-3
    assert any("TensorRT 10 op audit passed" in line for line in lines)
    assert manifest.source_checkpoint == f"preset micro, random weights (seed {seed})" and manifest.source_sha256 == ""
    assert manifest.dtype == "fp32" and manifest.io_dtype == "fp32"

    # The same export checked against another seed's weights must fail, say why, and exit with 1.
    import vdpm_ros.export.onnx_export as onnx_export
    from vdpm_ros.model import presets

    def reuse(model, out_dir, *a, **k):
        shutil.copytree(out, out_dir, dirs_exist_ok=True)
        return ExportManifest.read(out_dir)

    monkeypatch.setitem(presets.PRESETS, "micro", lambda: micro_config)
    monkeypatch.setattr(onnx_export, "export_onnx", reuse)
    other = list(args)
    other[other.index("--seed") + 1] = str(seed + 1)
    other[other.index("--out") + 1] = str(tmp_path / "other")
    assert main(other) == 1
    text = capsys.readouterr().out
    assert "FAIL" in text and text.strip().splitlines()[-1].startswith("parity: ")


def test_every_op_is_one_tensorrt_10_parses_and_none_is_forbidden(micro_export):
    out, manifest = micro_export.dir, micro_export.manifest
    for name in ("encoder", "decoder"):
        audit = audit_graph(out / f"{name}.onnx")
        assert audit.problems == [], audit.problems
        assert audit.checker_error is None and audit.shape_inference_error is None
        ops = set(audit.op_counts)
        assert not ops & FORBIDDEN_OPS and ops <= set(SUPPORTED_TYPES) and not ops & UNSUPPORTED
        assert {"MatMul", "LayerNormalization", "Softmax", "Conv"} <= ops  # the graphs were really read
        assert audit.float64_tensors == [] and audit.resize_problems == []
        assert manifest.graph_checks[name]["problems"] == [] and manifest.graph_checks[name]["op_counts"] == audit.op_counts
    assert SOURCE["repository"] == "onnx/onnx-tensorrt" and len(SOURCE["commit"]) == 40


def _graph(nodes, inputs, outputs, path, initializers=()):
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs, list(initializers)), opset_imports=[helper.make_opsetid("", 18)]
    )
    onnx.save(model, str(path))
    return path


def test_the_audit_catches_what_broke_vggt_exports(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 3])
    seq = helper.make_node("SplitToSequence", ["x"], ["s"])
    at = helper.make_node("SequenceAt", ["s", "i"], ["y"])
    sin = helper.make_node("Sin", ["y"], ["z"])
    index = helper.make_tensor("i", TensorProto.INT64, [], [0])
    z = helper.make_tensor_value_info("z", TensorProto.DOUBLE, None)
    audit = audit_graph(_graph([seq, at, sin], [x], [z], tmp_path / "seq.onnx", [index]))
    assert {"SplitToSequence", "SequenceAt"} <= set(audit.forbidden_ops)
    assert "SplitToSequence" in audit.not_in_tensorrt and "Sin:DOUBLE" in audit.tensorrt_type_gaps
    assert "x" in audit.float64_tensors and audit.problems

    img = helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 4, 2, 2])
    sizes = helper.make_tensor("sizes", TensorProto.INT64, [4], [1, 4, 3, 3])
    resize = helper.make_node("Resize", ["img", "", "", "sizes"], ["r"], mode="cubic", antialias=1)
    r = helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, 4, 3, 3])
    audit = audit_graph(_graph([resize], [img], [r], tmp_path / "cubic.onnx", [sizes]))
    assert len(audit.resize_problems) == 1 and "cubic" in audit.resize_problems[0]

    # int(positions.max())-style shapes: an output whose size depends on the data
    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, ["S"])
    nz = helper.make_tensor_value_info("nz", TensorProto.INT64, None)
    audit = audit_graph(_graph([helper.make_node("NonZero", ["v"], ["nz"])], [v], [nz], tmp_path / "nonzero.onnx"))
    assert audit.undeclared_output_dims and audit.undeclared_output_dims[0].startswith("nz[1]")  # only S, Q, F may vary
    assert "NonZero" in audit.forbidden_ops
    (tmp_path / "garbage.onnx").write_bytes(b"not a protobuf")
    garbage = audit_graph(tmp_path / "garbage.onnx")
    assert garbage.checker_error and garbage.problems


def test_frozen_constants_change_no_output_bit(micro_config):
    torch.manual_seed(0)
    model = VDPM(micro_config).eval()
    window = check_window(3, HW)
    eager = pytorch_outputs(model, HW, window)
    with frozen_graph_constants(model, HW):
        frozen = pytorch_outputs(model, HW, window)
        with pytest.raises(ValueError, match="patch grid"):
            model.encode(torch.rand(3, 3, 42, 42))
    assert set(frozen) == set(eager)
    for name in eager:
        assert np.array_equal(frozen[name], eager[name]), name
    assert "_position_embedding" not in vars(model.aggregator.patch_embed)  # the overrides are gone again


def test_onnxruntime_matches_pytorch_on_the_check_window(micro_export):
    model, out = micro_export.model, micro_export.dir
    window = check_window(4, HW, seed=5)
    engine = load_engine(out, device="cpu").model
    report = compare(engine.graph_outputs(window.images, window.cond_times, window.frames), pytorch_outputs(model, HW, window))
    assert report.passed and report.max_abs < 1e-4, report.table()
    assert len(report.arrays) == 8 and report.line().startswith("parity: max abs diff ")


def test_compare_fails_outside_the_tolerance_and_on_nan():
    ref = {"a": np.array([1.0, 100.0], dtype=np.float32)}
    assert compare({"a": np.array([1.0015, 100.05], dtype=np.float32)}, ref).passed  # 1e-3 + 1e-3 * |b|
    failed = compare({"a": np.array([1.0025, 100.0], dtype=np.float32)}, ref)
    assert not failed.passed and failed.arrays[0].failing == 1 and abs(failed.max_abs - 0.0025) < 1e-6
    assert not compare({"a": np.array([np.nan, 100.0], dtype=np.float32)}, ref).passed
    assert not compare({}, ref).passed


def _copy(export, tmp_path, name):
    target = tmp_path / name
    shutil.copytree(export, target)
    return target


def test_damaged_exports_name_the_file(micro_export, tmp_path):
    out, manifest = micro_export.dir, micro_export.manifest
    data_file = next(iter(manifest.external_data["encoder"]))
    assert data_file == "encoder.onnx.data"

    garbage = _copy(out, tmp_path, "garbage")
    (garbage / "decoder.onnx").write_bytes(b"\x00garbage, not a graph")
    with pytest.raises(CorruptExportError, match=r"garbage/decoder\.onnx: ONNX Runtime cannot load the decoder graph"):
        load_engine(garbage)

    missing = _copy(out, tmp_path, "missing")
    (missing / data_file).unlink()
    with pytest.raises(CorruptExportError, match=r"missing/encoder\.onnx\.data: the encoder graph's weight file is missing"):
        load_engine(missing)

    short = _copy(out, tmp_path, "short")
    size = (short / data_file).stat().st_size
    with open(short / data_file, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(CorruptExportError, match=rf"short/encoder\.onnx\.data: .* has {size // 2:,} bytes, the export wrote {size:,}"):
        load_engine(short)

    # A short file whose manifest was edited to match: ONNX Runtime's own error, turned into ours.
    data = json.loads((short / "manifest.json").read_text())
    data["external_data"]["encoder"][data_file] = size // 2
    (short / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CorruptExportError, match=r"short/encoder\.onnx: ONNX Runtime cannot load the encoder graph"):
        load_engine(short)
    assert issubclass(CorruptExportError, ExportMismatchError)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "official"], "--random-weights"),
        (["--random-weights"], "needs --preset"),
        (["--model", "m.pt", "--preset", "official", "--random-weights"], "give one or the other"),
        (["--model", "a.pt", "--checkpoint", "b.pt"], "give the model once"),
    ],
)
def test_export_command_argument_errors(args, message, tmp_path, capsys):
    assert main(["export", *args, "--height", "28", "--width", "28", "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_checkpoint_flag_is_a_deprecated_alias_of_model(tmp_path, caplog):
    # A missing checkpoint fails in load_model: both spellings reach it, the old one with a warning.
    for flag in ("--model", "--checkpoint"):
        assert (
            main(["export", flag, str(tmp_path / "none.safetensors"), "--height", "28", "--width", "28", "--out", str(tmp_path / "o")]) == 2
        )
    assert "--checkpoint is deprecated; use --model" in caplog.text
