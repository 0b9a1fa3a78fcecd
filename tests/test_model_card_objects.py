"""The model card's moving-object section: generated from ``vdpm eval --synthetic`` JSON, rewritable on its own."""

from __future__ import annotations

import json
import math
from pathlib import Path

from vdpm_ros.harness.model_card import OBJECTS_BEGIN, OBJECTS_END, main, meets_object_bar, render_objects, replace_objects_section

REPO = Path(__file__).resolve().parents[1]


def _result(recall: float, velocity: float) -> dict:
    return {
        "seeds": list(range(1000, 1020)), "frames": 10, "size": [84, 112],
        "object_recall": recall, "object_precision": 0.5, "object_velocity_rel_error": velocity, "object_rotation_error_deg": 3.25,
        "objects": {"windows": 120, "ground_truth": 400, "predicted": 10, "matched": 5, "rigid_matched": 3},
    }  # fmt: skip


def test_the_section_states_the_numbers_the_counts_the_command_and_the_verdict():
    text = render_objects(_result(0.0125, 0.75), "m.safetensors")
    assert "| object_recall | 0.0125 | at least 0.6 |" in text and "| object_velocity_rel_error | 0.7500 | at most 0.5 |" in text
    assert "120 windows, 400 ground-truth moving objects, 10 predicted, 5 matched" in text
    assert "`vdpm eval --synthetic 1000-1019 --model models/m.safetensors --json eval.json`" in text
    assert "does NOT meet the moving-object bar" in text
    assert meets_object_bar(_result(0.6, 0.5)) and not meets_object_bar(_result(0.59, 0.1)) and not meets_object_bar(_result(0.9, 0.51))
    nothing = {**_result(0.0, math.nan), "object_precision": 1.0, "objects": {"windows": 6, "ground_truth": 9, "predicted": 0, "matched": 0}}
    text = render_objects(nothing, "m.safetensors")
    assert not meets_object_bar(nothing) and "n/a (no object matched)" in text and "1.0000 (by convention: nothing was predicted)" in text


def test_the_section_is_replaced_in_place_and_inserted_once(tmp_path):
    card = "# Card\n\n## Held-out\n\ntable\n\n## Speed\n\nfast\n"
    first = replace_objects_section(card, render_objects(_result(0.1, 0.9), "m.safetensors"))
    assert first.index(OBJECTS_BEGIN) < first.index("## Speed") and first.count(OBJECTS_BEGIN) == 1
    second = replace_objects_section(first, render_objects(_result(0.7, 0.2), "m.safetensors"))
    assert second.count(OBJECTS_BEGIN) == second.count(OBJECTS_END) == 1
    assert "| object_recall | 0.7000 |" in second and "0.1000" not in second and "meets the moving-object bar" in second
    assert second.replace(second[second.index(OBJECTS_BEGIN) : second.index(OBJECTS_END) + len(OBJECTS_END)], "") == first.replace(
        first[first.index(OBJECTS_BEGIN) : first.index(OBJECTS_END) + len(OBJECTS_END)], "")  # fmt: skip


def test_objects_only_rewrites_the_section_of_an_existing_card(tmp_path):
    card = tmp_path / "card.md"
    original = (REPO / "models" / "vdpm_default.md").read_text()
    card.write_text(original)
    (tmp_path / "eval.json").write_text(json.dumps({**_result(0.25, 0.4), "model_path": "/x/models/vdpm_default.safetensors"}))
    assert main(["--objects-only", "--eval", str(tmp_path / "eval.json"), "--out", str(card)]) == 0
    text = card.read_text()
    assert "| object_recall | 0.2500 |" in text and "--model models/vdpm_default.safetensors" in text
    outside = text.replace(text[text.index(OBJECTS_BEGIN) : text.index(OBJECTS_END) + len(OBJECTS_END)], "")
    before = original
    if OBJECTS_BEGIN in original:
        before = original.replace(original[original.index(OBJECTS_BEGIN) : original.index(OBJECTS_END) + len(OBJECTS_END)], "")
    assert outside.replace("\n", "") == before.replace("\n", "")  # the rest of the card is untouched
