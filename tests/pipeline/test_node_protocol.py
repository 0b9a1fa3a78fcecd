"""The node protocol of vdpm eval --synthetic: the node's pipeline scored against exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_oracle import ORACLE_IMG, OracleModel

from vdpm_ros.evaluation.node_protocol import NodeProtocolConfig, evaluate_node_protocol, score_sequence
from vdpm_ros.pipeline import PipelineConfig
from vdpm_ros.synth import SceneConfig, generate_sequence


class StillOracle(OracleModel):
    """Exact geometry, but every point stays where it is at its own time: a model that predicts no motion."""

    def _points(self, state, time_idx, frame_idx):
        return super()._points(state, frame_idx, frame_idx)


def _seq(seed=1000, hw=(168, 224), frames=7, **scene):
    return generate_sequence(seed, SceneConfig(height=hw[0], width=hw[1], frames=frames, **scene))


def test_an_oracle_on_a_camera_above_the_network_scores_no_error():
    # 224x168 camera, 112-wide network: the outputs are on the network grid and scored on it.
    seq = _seq()
    s = score_sequence(OracleModel(seq, ORACLE_IMG, "crop"), seq, PipelineConfig(motion_source="model"))
    assert s.union > 0 and s.intersection / s.union > 0.95
    assert np.nanmax(s.epe) < 1e-4 < np.nanmin(s.epe_no_motion)
    assert "model" in s.motion_source


def test_a_model_that_predicts_no_motion_scores_the_baseline():
    seq = _seq()
    s = score_sequence(StillOracle(seq, ORACLE_IMG, "crop"), seq, PipelineConfig(motion_source="model"))
    assert s.intersection == 0 and s.union > 0 and max(s.flagged) == 0.0
    np.testing.assert_allclose(s.epe, s.epe_no_motion, rtol=1e-6)


@pytest.mark.parametrize("source", ["model", "flow"])
def test_the_protocol_reports_both_sources_and_their_baselines(source):
    seqs = [1000]
    seq = generate_sequence(seqs[0], NodeProtocolConfig(camera_hw=(84, 112), frames=6).scene())
    out = evaluate_node_protocol(OracleModel(seq, ORACLE_IMG, "crop"), seqs, PipelineConfig(motion_source=source),
                                 NodeProtocolConfig(camera_hw=(84, 112), frames=6), progress=False)  # fmt: skip
    assert out["node_protocol"]["motion_source"].startswith(source)
    assert 0 <= out["node_motion_iou"] <= 1 and out["no_motion"]["node_motion_iou"] == 0.0
    assert out["no_motion"]["scene_flow_epe_dynamic"] > 0 and np.isfinite(out["scene_flow_epe_dynamic"])
    assert {"object_recall", "object_precision"} <= set(out)
    if source == "model":  # the oracle's own motion is exact
        assert out["scene_flow_epe_dynamic"] < 1e-4 and out["node_motion_iou"] > 0.95


def test_static_scenes_have_nothing_to_flag():
    protocol = NodeProtocolConfig(camera_hw=(84, 112), frames=6, static_scenes=True)
    seq = generate_sequence(1001, protocol.scene())
    assert not seq.motion_mask.any()
    out = evaluate_node_protocol(
        OracleModel(seq, ORACLE_IMG, "crop"), [1001], PipelineConfig(motion_source="model"), protocol, progress=False
    )
    assert out["node_flagged_fraction"] == 0.0 and np.isnan(out["node_motion_iou"])
