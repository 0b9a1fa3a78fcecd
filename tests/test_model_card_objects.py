"""The model card's generated sections (motion sources, moving objects): from ``vdpm eval --synthetic`` JSON, rewritable alone."""

from __future__ import annotations

import json
import math
from pathlib import Path

from vdpm_ros.harness.model_card import (
    MOTION_BEGIN,
    MOTION_END,
    OBJECTS_BEGIN,
    OBJECTS_END,
    main,
    meets_motion_bar,
    meets_object_bar,
    render_motion,
    render_objects,
    replace_section,
)

REPO = Path(__file__).resolve().parents[1]


def _result(recall: float, velocity: float) -> dict:
    return {
        "seeds": list(range(1000, 1020)), "frames": 10, "size": [84, 112],
        "object_recall": recall, "object_precision": 0.5, "object_velocity_rel_error": velocity, "object_rotation_error_deg": 3.25,
        "objects": {"windows": 120, "ground_truth": 400, "predicted": 10, "matched": 5, "rigid_matched": 3},
        "node_motion_iou": 0.55, "scene_flow_epe_dynamic": 0.03, "node_flagged_fraction": 0.2,
        "no_motion": {"scene_flow_epe_dynamic": 0.06},
        "node_protocol": {"motion_source": "flow (optical flow ...)", "camera_hw": [240, 320],
                          "per_seed": {"1000": {"flagged_fraction": 0.01}, "1001": {"flagged_fraction": 0.03}}},
    }  # fmt: skip


def test_the_section_states_the_numbers_the_counts_the_command_and_the_verdict():
    text = render_objects(_result(0.0125, 0.75), "m.safetensors")
    assert "| object_recall | 0.0125 | at least 0.6 |" in text and "| object_velocity_rel_error | 0.7500 | at most 0.5 |" in text
    assert "120 windows, 400 ground-truth moving objects, 10 predicted, 5 matched" in text and "camera 320x240, motion source flow" in text
    assert "`vdpm eval --synthetic 1000-1019 --model models/m.safetensors --json eval.json`" in text
    assert "does NOT meet the moving-object bar" in text
    assert meets_object_bar(_result(0.6, 0.5)) and not meets_object_bar(_result(0.59, 0.1)) and not meets_object_bar(_result(0.9, 0.51))
    nothing = {
        **_result(0.0, math.nan),
        "object_precision": 1.0,
        "objects": {"windows": 6, "ground_truth": 9, "predicted": 0, "matched": 0},
    }
    text = render_objects(nothing, "m.safetensors")
    assert not meets_object_bar(nothing) and "n/a (no object matched)" in text and "1.0000 (by convention: nothing was predicted)" in text


def test_the_section_is_replaced_in_place_and_inserted_once(tmp_path):
    card = "# Card\n\n## Held-out\n\ntable\n\n## Speed\n\nfast\n"
    first = replace_section(card, OBJECTS_BEGIN, OBJECTS_END, render_objects(_result(0.1, 0.9), "m.safetensors"))
    assert first.index(OBJECTS_BEGIN) < first.index("## Speed") and first.count(OBJECTS_BEGIN) == 1
    second = replace_section(first, OBJECTS_BEGIN, OBJECTS_END, render_objects(_result(0.7, 0.2), "m.safetensors"))
    assert second.count(OBJECTS_BEGIN) == second.count(OBJECTS_END) == 1
    assert "| object_recall | 0.7000 |" in second and "0.1000" not in second and "meets the moving-object bar" in second
    assert second.replace(second[second.index(OBJECTS_BEGIN) : second.index(OBJECTS_END) + len(OBJECTS_END)], "") == first.replace(
        first[first.index(OBJECTS_BEGIN) : first.index(OBJECTS_END) + len(OBJECTS_END)], "")  # fmt: skip


def test_the_motion_section_states_both_sources_the_static_scenes_and_the_verdict():
    default, model = (
        _result(0.1, 0.1),
        {**_result(0.1, 0.1), "node_motion_iou": 0.0, "scene_flow_epe_dynamic": 0.06, "node_flagged_fraction": 0.0},
    )
    static = {**_result(0.1, 0.1), "node_flagged_fraction": 0.015}
    text = render_motion({"flow (node default)": default, "model": model}, static, "m.safetensors")
    assert "| flow (node default) | 0.5500 | 0.0300 | 0.0600 | 0.50 | 20.0 % |" in text
    assert "| model | 0.0000 | 0.0600 | 0.0600 | 1.00 | 0.0 % |" in text
    assert "1.50 % of pixels flagged" in text and "worst sequence 3.00 %, 1 of 2 at or above 2 %" in text
    assert "camera 320x240" in text and "--static-scenes --json" in text and "meets the motion bar" in text
    assert meets_motion_bar(default, static)
    assert not meets_motion_bar(default, None)  # no static run: not shown, not met
    assert not meets_motion_bar(default, {**static, "node_flagged_fraction": 0.02})
    assert not meets_motion_bar({**default, "scene_flow_epe_dynamic": 0.031}, static)
    assert not meets_motion_bar({**default, "node_motion_iou": 0.49}, static)
    assert "does NOT meet the motion bar" in render_motion({"model": model}, static, "m.safetensors")


def test_sections_only_rewrites_the_generated_sections_of_an_existing_card(tmp_path):
    card = tmp_path / "card.md"
    original = (REPO / "models" / "vdpm_default.md").read_text()
    card.write_text(original)
    (tmp_path / "eval.json").write_text(json.dumps({**_result(0.25, 0.4), "model_path": "/x/models/vdpm_default.safetensors"}))
    (tmp_path / "static.json").write_text(json.dumps({**_result(0.25, 0.4), "node_flagged_fraction": 0.01}))
    assert (
        main(["--sections-only", "--eval", str(tmp_path / "eval.json"), "--eval-static", str(tmp_path / "static.json"), "--out", str(card)])
        == 0
    )
    text = card.read_text()
    assert "| object_recall | 0.2500 |" in text and "--model models/vdpm_default.safetensors" in text
    assert "| flow (node default) | 0.5500 |" in text and text.index(MOTION_END) < text.index(OBJECTS_BEGIN)

    def without_sections(t: str) -> str:
        for begin, end in ((MOTION_BEGIN, MOTION_END), (OBJECTS_BEGIN, OBJECTS_END)):
            if begin in t:
                t = t.replace(t[t.index(begin) : t.index(end) + len(end)], "")
        return t.replace("\n", "")

    assert without_sections(text) == without_sections(original)  # the rest of the card is untouched
    again = card.read_text()
    assert (
        main(["--sections-only", "--eval", str(tmp_path / "eval.json"), "--eval-static", str(tmp_path / "static.json"), "--out", str(card)])
        == 0
    )
    assert card.read_text() == again  # rewriting is idempotent
