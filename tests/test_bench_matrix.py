"""The side-by-side benchmark across camera sizes and motion sources (vdpm_ros.harness.bench_matrix)."""

from __future__ import annotations

import argparse
import json

import pytest

from vdpm_ros.harness.bench_matrix import main, parse_size, render_table, summarise
from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import save_checkpoint


def test_sizes_are_parsed_and_bad_ones_refused_with_the_format():
    assert parse_size("480x640") == (480, 640) and parse_size("84X112") == (84, 112)
    for bad in ("640", "axb", "10x640"):
        with pytest.raises(argparse.ArgumentTypeError, match="HxW|at least"):
            parse_size(bad)


def test_a_cell_is_the_median_of_its_passes_and_the_table_compares_with_the_first_camera():
    def run(ms, rss):
        return {"median_ms": ms, "windows_per_s": 1e3 / ms, "peak_rss_mb": rss, "stage_median_ms": {"encode": ms / 2, "decode": ms / 4, "total": ms},
                "output_hw": [84, 112], "net_hw": [84, 112]}  # fmt: skip

    small = summarise([run(100, 500), run(120, 510), run(110, 505)])
    assert small["median_ms"] == 110 and small["peak_rss_mb"] == 510 and small["stage_median_ms"]["encode"] == 55
    big = summarise([run(130, 700), run(150, 720)])
    table = render_table({"m/84x112/model": small, "m/720x1280/model": big}, ["m"], [(84, 112), (720, 1280)], ["model"])
    assert "| m | 112x84 | model | 110 ms | 9.09 | 1.00x | 510 MiB | 100, 120, 110 | encode 55, decode 28 |" in table
    assert big["windows_per_s"] == pytest.approx((1e3 / 130 + 1e3 / 150) / 2)  # the median of the passes' throughputs
    assert "| m | 1280x720 | model | 140 ms | 7.18 | 1.27x | 720 MiB | 130, 150 |" in table


def test_a_small_matrix_runs_every_cell_in_its_own_process(tmp_path, micro_config):
    model = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), model)
    out = tmp_path / "matrix"
    assert main(["--out", str(out), "--models", str(model), "--sizes", "28x42", "56x84", "--sources", "model", "--passes", "1",
                 "--repeats", "1", "--warmup", "0", "--frames", "3"]) == 0  # fmt: skip
    data = json.loads((out / "matrix.json").read_text())
    assert set(data["cells"]) == {"m.safetensors/28x42/model", "m.safetensors/56x84/model"}
    assert all(len(r) == 1 and r[0]["motion_source"] == "model" for r in data["runs"].values())
    assert data["runs"]["m.safetensors/56x84/model"][0]["raw_hw"] == [56, 84]
    text = (out / "matrix.md").read_text()
    assert "| m.safetensors | 84x56 | model |" in text and "load average" in text
