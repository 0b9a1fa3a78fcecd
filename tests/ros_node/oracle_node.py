"""vdpm_node with an ORACLE model: the end-to-end test of the outputs whose values need real motion.

    python tests/ros_node/oracle_node.py SEED HEIGHT WIDTH FRAMES --ros-args ...

The node is the package's own (``vdpm_ros.ros.node.main``) in its own process, with its parameters, topics
and publishers; only the model door is replaced by the oracle of tests/pipeline/pipeline_oracle.py, which
answers with the exact maps of the generated sequence whose frames the test sends (network width = WIDTH,
so the raw <-> network map is the identity).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_oracle import OracleModel  # noqa: E402

from vdpm_ros.ros.node import main  # noqa: E402
from vdpm_ros.runtime import ModelSettings  # noqa: E402
from vdpm_ros.runtime.engine import LoadedEngine  # noqa: E402
from vdpm_ros.synth import SceneConfig, generate_sequence  # noqa: E402


def run(argv: list[str]) -> int:
    seed, height, width, frames = (int(a) for a in argv[:4])
    seq = generate_sequence(seed, SceneConfig(height=height, width=width, frames=frames))
    oracle = OracleModel(seq, width, "crop")
    loaded = LoadedEngine(oracle, "pytorch", "cpu", f"oracle of synthetic seed {seed} (exact maps)", source="oracle")
    ModelSettings.resolve = lambda self: loaded  # the one door the node loads its model through
    return main(["vdpm_node", *argv[4:]])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
