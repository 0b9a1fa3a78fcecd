"""Draw docs/images/architecture.png: the package's layers (from tests/test_architecture.py) and one window's path.

.venv/bin/python scripts/draw_architecture.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_architecture import CORE, LAYERS  # noqa: E402  (the layer table the import test enforces)

PATH = [
    ("sensor_msgs/Image\nCompressedImage", "ros.node / bags.camera_bag\ndecode + validate"),
    ("Frame", "pipeline.frames"),
    ("window of S frames", "pipeline.window_buffer"),
    ("model pass", "pipeline.processor ->\nruntime engine (PyTorch / ONNX Runtime)"),
    ("P_i(t_j), cameras", "model.outputs"),
    ("WindowResult\n(raw-pixel maps)", "pipeline.processor, derive, resample"),
    ("odometry frame", "pipeline.stitching"),
    ("published arrays", "pipeline.published"),
    ("messages", "output.window_messages\n(rclpy or rosbags types)"),
    ("topics / MCAP bag", "ros.node publishers\nbags.output_bag"),
]


def _box(ax, x, y, w, h, text, color, size=9):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="#333333", lw=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)


def main() -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 7.5), gridspec_kw={"width_ratios": [1.1, 1]})
    for ax in (left, right):
        ax.set_axis_off()
    n = len(LAYERS)
    left.set_xlim(0, 10)
    left.set_ylim(-0.6, n + 0.3)
    left.set_title(
        "Layers: a module imports only its own layer or those below\n(tests/test_architecture.py reads it from the source)", fontsize=10
    )
    for i, layer in enumerate(LAYERS):
        names = [u for u in layer if u != "__init__"]
        color = "#d8ecd3" if set(layer) <= CORE else "#f5dcc3"
        _box(left, 0.3, i + 0.1, 9.4, 0.75, "   ".join(names), color, 10)
    left.add_patch(FancyArrowPatch((9.85, n - 0.2), (9.85, 0.2), arrowstyle="-|>", mutation_scale=14, color="#555555"))
    left.text(0.3, -0.45, "green: ROS-free core (never imports rclpy or the ROS layer)   orange: ROS layer, harnesses, CLI", fontsize=8)

    right.set_xlim(0, 10)
    right.set_ylim(-0.5, len(PATH) + 0.2)
    right.set_title("One window's path, from camera message to published topics", fontsize=10)
    for k, (what, where) in enumerate(PATH):
        y = len(PATH) - 1 - k
        _box(right, 0.2, y + 0.1, 3.6, 0.7, what, "#dde6f5", 9)
        right.text(4.1, y + 0.45, where, va="center", fontsize=8.5, family="monospace")
        if k:
            right.add_patch(FancyArrowPatch((2.0, y + 1.1), (2.0, y + 0.8), arrowstyle="-|>", mutation_scale=10, color="#555555"))
    out = REPO / "docs" / "images" / "architecture.png"
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    return out


if __name__ == "__main__":
    print(main())
