"""The generation-speed helper."""

from __future__ import annotations

import pytest

from vdpm_ros.synth import SceneConfig, measure_generation_speed


def test_measure_generation_speed_returns_positive_rate() -> None:
    fps = measure_generation_speed(SceneConfig(height=12, width=16, frames=2), n_sequences=2)
    assert isinstance(fps, float) and fps > 0.0


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_measure_generation_speed_rejects_bad_count(n: object) -> None:
    with pytest.raises(ValueError, match="n_sequences"):
        measure_generation_speed(SceneConfig(height=8, width=8, frames=1), n_sequences=n)  # type: ignore[arg-type]
