"""A picture of the object stage on a generated sequence: what the markers show, drawn with matplotlib.

    python -m vdpm_ros.evaluation.objects_preview --seed 1000 --out docs/images/moving_objects_seed1000.png

It feeds the exact ground-truth maps (an oracle, not a model) through the object stage window after
window (segmentation, rigid fit, tracking, static map) and draws the last window: the image with each
track's pixels, projected box and velocity arrow (the distance covered in one second), and a top view
of the static map with the same boxes and arrows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..objects import ObjectTracker, StaticMap, StaticMapConfig, TrackedObject, detect_moving_objects, object_markers
from ..synth import SceneConfig, SyntheticSequence, generate_sequence
from .objects import observation_from_sequence

_EDGES = [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 3), (2, 6), (3, 7), (4, 5), (4, 6), (5, 7), (6, 7)]


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[(hi if i & 4 else lo)[0], (hi if i & 2 else lo)[1], (hi if i & 1 else lo)[2]] for i in range(8)])


def run_object_stage(seq: SyntheticSequence, window: int = 5) -> tuple[list[tuple[TrackedObject, ...]], StaticMap, np.ndarray]:
    """The object stage over every ``window``-frame window of ``seq`` (stride 1) on exact maps.

    Returns each window's tracked objects, the static map after the last window, and the last window's labels.
    """
    tracker = ObjectTracker()
    smap = StaticMap(StaticMapConfig(voxel_size=0.05))
    tracks, labels = [], None
    for target in range(window - 1, seq.num_frames):
        obs = observation_from_sequence(seq, source=target - window + 1, target=target)
        det = detect_moving_objects(obs)
        tracked = tracker.update(det)
        ok = obs.usable & np.isfinite(obs.points).all(-1)
        smap.insert(
            obs.points[ok & ~obs.dynamic],
            obs.stamp_ns,
            seq.images[target][ok & ~obs.dynamic],
            obs.points[ok & obs.dynamic],
            obs.camera_position,
        )
        tracks.append(tracked)
        labels = np.zeros_like(det.segmentation.labels)
        for t in tracked:
            labels[det.segmentation.labels == t.detection.label] = t.track_id
    return tracks, smap, labels


def write_objects_picture(seq: SyntheticSequence, path: str | Path, window: int = 5) -> Path:
    """Draw the last window of :func:`run_object_stage` into a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tracks, smap, labels = run_object_stage(seq, window)
    last = seq.num_frames - 1
    objects = tracks[-1]
    markers = object_markers(objects, units="m").markers
    fig, (ax_img, ax_top) = plt.subplots(1, 2, figsize=(11.0, 4.2), gridspec_kw={"width_ratios": [1.25, 1.0]})

    ax_img.imshow(seq.images[last])
    overlay = np.zeros((*labels.shape, 4))
    for m in markers:
        overlay[labels == m.track_id] = (*m.color, 0.45)
    ax_img.imshow(overlay)
    h, w = labels.shape
    for obj, m in zip(objects, markers):
        corners, _ = seq.project(_corners(obj.detection.box_min, obj.detection.box_max), last)
        for a, b in _EDGES:
            ax_img.plot(corners[[a, b], 0], corners[[a, b], 1], color=m.color, lw=1.2)
        if m.arrow_start is not None:
            (u0, v0), (u1, v1) = seq.project(np.stack([m.arrow_start, m.arrow_end]), last)[0]
            ax_img.annotate("", xy=(u1, v1), xytext=(u0, v0), arrowprops=dict(arrowstyle="-|>", color="white", lw=2.2))
            ax_img.annotate("", xy=(u1, v1), xytext=(u0, v0), arrowprops=dict(arrowstyle="-|>", color=m.color, lw=1.2))
        top = corners[:, 1].min()
        ax_img.text(
            corners[:, 0].mean(),
            max(top - 3, 8),
            m.text,
            color="white",
            fontsize=8,
            ha="center",
            bbox=dict(facecolor=m.color, edgecolor="none", alpha=0.85, pad=1.5),
        )
    ax_img.set_xlim(-0.5, w - 0.5)
    ax_img.set_ylim(h - 0.5, -0.5)
    ax_img.set_axis_off()
    ax_img.set_title(f"frame {last}: tracked objects (boxes, velocity x 1 s, id and speed)", fontsize=9)

    cloud = smap.cloud()
    keep = cloud.xyz[:, 1] > np.percentile(cloud.xyz[:, 1], 2)  # leave out the ceiling-most points (y is down)
    ax_top.scatter(cloud.xyz[keep, 0], cloud.xyz[keep, 2], c=cloud.rgb[keep] / 255.0, s=1.5, linewidths=0)
    cams = seq.camera_to_world()[:, :3, 3]
    ax_top.plot(cams[:, 0], cams[:, 2], "k.-", lw=1, ms=4, label="camera")
    for obj, m in zip(objects, markers):
        lo, hi = obj.detection.box_min, obj.detection.box_max
        ax_top.add_patch(plt.Rectangle((lo[0], lo[2]), hi[0] - lo[0], hi[2] - lo[2], fill=False, color=m.color, lw=1.5))
        if m.arrow_start is not None:
            ax_top.annotate(
                "",
                xy=(m.arrow_end[0], m.arrow_end[2]),
                xytext=(m.arrow_start[0], m.arrow_start[2]),
                arrowprops=dict(arrowstyle="-|>", color=m.color, lw=1.5),
            )
        ax_top.text(hi[0], hi[2], f"#{m.track_id}", color=m.color, fontsize=8, fontweight="bold")
    ax_top.set_aspect("equal")
    ax_top.set_xlabel("x (m)")
    ax_top.set_ylabel("z (m), camera 0 forward")
    ax_top.legend(loc="lower right", fontsize=7)
    ax_top.set_title(f"top view: static map ({len(smap)} voxels of 5 cm) and the objects", fontsize=9)
    fig.suptitle(f"seed {seq.seed}, {seq.num_frames} frames in windows of {window}: exact maps (oracle), not a model", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    seq = generate_sequence(args.seed, SceneConfig(height=args.height, width=args.width, frames=args.frames))
    print(write_objects_picture(seq, args.out))


if __name__ == "__main__":
    main()
