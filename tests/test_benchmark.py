"""``vdpm bench`` produces every stage for both paths, and the streaming path does less work."""

from __future__ import annotations

import json

import pytest
import torch

from vdpm_ros.cli.main import main
from vdpm_ros.harness.benchmark import STAGES, BenchConfig, format_table, run_benchmark
from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import save_checkpoint


def test_benchmark_reports_all_stages_and_less_work_for_latest_frame(micro_config):
    torch.manual_seed(0)
    cfg = BenchConfig(frames=4, raw_hw=(30, 42), target_times=2, decoded_frames=1, repeats=2, warmup=1)
    result = run_benchmark(VDPM(micro_config), cfg)
    for path in (result.streaming, result.reference):
        assert set(path) == set(STAGES)
        assert all(s.median_ms > 0 and s.p90_ms >= s.median_ms for s in path.values())
    # 2 of 4 target times and 1 of 4 frames: strictly less decoder and head work than the reference
    assert 0 < result.gflop_streaming < result.gflop_reference
    assert result.peak_host_mb > 0 and result.peak_device_mb is None
    assert "speed-up" in format_table(result)


def test_bench_command_writes_json(tmp_path, micro_config, capsys):
    path = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), path)
    out = tmp_path / "b.json"
    args = ["bench", "--model", str(path), "--frames", "3", "--raw-size", "28", "42", "--repeats", "1", "--warmup", "0", "--json", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert data["config"]["frames"] == 3 and set(data["streaming"]) == set(STAGES)
    assert "reference median" in capsys.readouterr().out


def test_bad_bench_config():
    with pytest.raises(ValueError, match="target_times"):
        BenchConfig(frames=3, target_times=4)


@pytest.mark.parametrize("source", ["model", "flow"])
def test_pipeline_benchmark_times_the_node_computation(micro_config, capsys, tmp_path, source):
    path = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), path)
    out = tmp_path / "p.json"
    assert main(["bench", "--pipeline", "--model", str(path), "--frames", "3", "--raw-size", "28", "42", "--repeats", "2", "--warmup", "1",
                 "--motion-source", source, "--stride", "2", "--json", str(out)]) == 0  # fmt: skip
    data = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert data["motion_source"] == source and f"motion source {source}" in printed
    assert data["stride"] == 2 and "stride 2," in printed and data["windows_timed"] == 2
    assert (data["stage_median_ms"]["motion"] > 0) == (source == "flow")  # the flow source is timed as its own stage
    assert data["median_ms"] > 0 and data["windows_per_s"] > 0
    assert {"encode", "decode", "total"} <= set(data["stage_median_ms"])
    # Every stage the node spends time on is listed, plus the remainder, so nothing goes unexplained.
    assert set(data["stage_median_ms"]) == {"preprocess", "encode", "cameras", "decode", "motion", "postprocess", "stitch", "scene",
                                            "messages", "other", "total"}  # fmt: skip
    assert data["peak_rss_mb"] > 0 and data["output_hw"] == [28, 42]
    # windows/s is throughput (windows per second of wall time, as the node counts it), not 1 / median.
    assert data["windows_per_s"] == pytest.approx(1e3 / data["mean_ms"])


def test_pipeline_benchmark_with_a_stride_times_as_many_windows(micro_config):
    from vdpm_ros.harness.benchmark import run_pipeline_benchmark
    from vdpm_ros.ros.parameters import NodeParameters

    params = NodeParameters().replace(stride=3, motion_source="model")
    stats = run_pipeline_benchmark(VDPM(micro_config).eval(), 3, (28, 42), 3, 1, params=params)
    assert stats["windows_timed"] == 3 and stats["stage_median_ms"]["total"] > 0  # the stream was long enough for them
    assert stats["stride"] == 3


def test_bench_times_an_onnx_export_through_the_engine_interface(tmp_path, micro_export, capsys):
    assert micro_export.hw == (28, 42)
    out = tmp_path / "b.json"
    args = ["bench", "--model", str(micro_export.dir), "--frames", "3", "--raw-size", "28", "42", "--repeats", "1",
            "--warmup", "0", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert data["model_parameters"] is None and data["model"].startswith("ONNX export")
    for path in (data["streaming"], data["reference"]):
        assert set(path) == set(STAGES) and all(s["median_ms"] > 0 for s in path.values())
    assert "exported engine" in capsys.readouterr().out
