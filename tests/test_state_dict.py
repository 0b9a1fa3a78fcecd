"""The full-size model has exactly the official parameter names, shapes and count (built on meta)."""

from __future__ import annotations

import re

import torch

from vdpm_ros.model import VDPM, VDPMConfig


def _reference_keys(reference_dir):
    rows, header = {}, ""
    for line in (reference_dir / "vdpm_1b_state_dict.tsv").read_text().splitlines():
        if line.startswith("#"):
            header += line
            continue
        key, shape, dtype = line.split("\t")
        rows[key] = (tuple(int(x) for x in re.findall(r"\d+", shape)), dtype)
    return rows, header


def test_full_size_state_dict_matches_official(reference_dir):
    reference, header = _reference_keys(reference_dir)
    with torch.device("meta"):
        model = VDPM(VDPMConfig.official())
    ours = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}
    assert len(reference) == 1478
    assert sorted(set(reference) - set(ours)) == []
    assert sorted(set(ours) - set(reference)) == []
    mismatched = {k: (ours[k], reference[k]) for k in reference if ours[k] != reference[k]}
    assert mismatched == {}
    total = sum(p.numel() for p in model.parameters())
    assert f"total_parameters={total}" in header.replace(",", "")
    assert total == 1_661_508_918


def test_per_module_parameter_counts(reference_dir):
    _, header = _reference_keys(reference_dir)
    expected = {m: int(n) for m, n in re.findall(r"(\w+)=(\d+)", header.split("per top-level module parameters:")[1])}
    with torch.device("meta"):
        model = VDPM(VDPMConfig.official())
    for name, count in expected.items():
        assert sum(p.numel() for p in getattr(model, name).parameters()) == count, name


def test_normalisation_constants_are_not_in_the_state_dict():
    with torch.device("meta"):
        model = VDPM(VDPMConfig.official())
    assert not any("_resnet" in k for k in model.state_dict())
