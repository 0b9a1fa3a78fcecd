"""The evaluation report: ``report.json``, a Markdown summary and PNG plots a person can open."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .bag_eval import BagEvaluation

#: Metric key -> (label with its unit, which direction is better). Lengths against ground truth are in
#: metres: the estimate is brought to the ground truth's scale (Sim(3) alignment, or the median depth ratio).
LABELS = {
    "ate_m": ("ATE RMSE (m, whole bag, Sim(3) aligned)", "lower"),
    "rpe_trans_m": ("RPE translation RMSE (m per frame step)", "lower"),
    "rpe_rot_deg": ("RPE rotation RMSE (deg per frame step)", "lower"),
    "depth_abs_rel": ("depth Abs Rel (median scaled, unitless)", "lower"),
    "depth_delta_1_25": ("depth delta < 1.25 (fraction of pixels)", "higher"),
    "flow_epe_dynamic": ("scene-flow EPE on moving pixels (m, over the last frame step)", "lower"),
    "scene_flow_epe_dynamic": ("scene-flow EPE on moving pixels (unit-mean scale, over the window)", "lower"),
    "motion_iou": ("motion-mask IoU (pooled over windows)", "higher"),
    "object_recall": ("moving objects: recall (mask IoU >= 0.5)", "higher"),
    "object_precision": ("moving objects: precision", "higher"),
    "object_velocity_rel_error": ("moving objects: velocity |v - v_gt| / |v_gt| (unitless)", "lower"),
    "object_rotation_error_deg": ("moving objects: rotation error, rigid (deg)", "lower"),
}
PROTOCOL_NOTE = (
    "The synthetic protocol scores the model alone, as `vdpm eval --synthetic` does: one window of the bag's first "
    "frames, points normalised to unit mean distance (lengths in those units, not metres), its ATE per window. The "
    "ATE above is different: the node's stitched trajectory over the whole bag, aligned to the ground truth, in metres."
)


def _fmt(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.4f}"


def write_report(ev: BagEvaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and the figures into ``out_dir``; returns their paths by name."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    summary = ev.summary()
    paths["json"].write_text(json.dumps(summary, indent=2, default=float))
    figures = {}
    if ev.trajectory is not None or (ev.estimate is not None and len(ev.estimate.stamps_ns) >= 2):
        figures["trajectory"] = _trajectory_figure(ev, out / "trajectory.png")
    if ev.records:
        figures["errors"] = _errors_figure(ev, out / "errors_over_time.png")
    if ev.snapshots:
        figures["frames"] = _frames_figure(ev, out / "frames.png")
    paths.update(figures)
    paths["markdown"].write_text(_markdown(ev, summary, figures))
    return paths


def _markdown(ev: BagEvaluation, summary: dict, figures: dict[str, Path]) -> str:
    t = summary["timing"]
    lines = [
        f"# vdpm evaluation: {Path(ev.bag).name}",
        "",
        f"- model: `{ev.model}`",
        f"- motion source: {ev.motion_source or 'not recorded'}",
        f"- images: `{ev.topics.image}` ({ev.frames} frames, {ev.bag_duration_s:.2f} s of bag); "
        + (
            f"{ev.windows} windows processed offline, in order, none dropped"
            if ev.mode == "offline"
            else f"{ev.windows} windows received from a running vdpm node (live replay with /clock)"
        ),
        f"- ground truth: {summary['topics']['ground_truth'] or 'none'}; depth: `{ev.topics.depth or 'none'}`",
        "",
        "| metric | model | no-motion baseline |",
        "|---|---|---|",
    ]
    for key, (label, better) in LABELS.items():
        if key in ev.metrics:
            lines.append(f"| {label} ({better} is better) | {_fmt(ev.metrics[key])} | {_fmt(ev.no_motion.get(key))} |")
    silent = _predicts_no_motion(ev)
    if silent:
        lines += ["", f"**{silent}**"]
    if ev.protocol:
        lines += ["", f"Synthetic protocol (`vdpm eval --synthetic`) on the first {ev.protocol['frames']} frames:", "",
                  "| metric | model | no-motion baseline |", "|---|---|---|"]  # fmt: skip
        for key, value in ev.protocol.items():
            if isinstance(value, float):
                lines.append(f"| {key} | {_fmt(value)} | {_fmt(ev.protocol['no_motion'].get(key))} |")
        lines += ["", PROTOCOL_NOTE]
    lines += [
        "",
        f"Timing on this machine: {t['windows_per_s']:.2f} windows/s, {t['real_time_factor']:.2f}x real time; "
        f"window latency mean {t['window_latency_mean_s'] * 1e3:.0f} ms, p95 {t['window_latency_p95_s'] * 1e3:.0f} ms "
        + (
            "(offline: processing time per window, not stamp-to-publish)."
            if ev.mode == "offline"
            else "(live: from the image leaving the player to the node's pose for that stamp arriving)."
        ),
    ]
    if ev.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in ev.notes]]
    captions = {
        "trajectory": (
            "Camera trajectory after Sim(3) alignment, seen along the axis the ground truth moves least on; arrows "
            "give the direction of travel."
            if ev.trajectory is not None
            else "The node's stitched camera trajectory (no ground truth in this bag), in the odometry frame; arrows "
            "give the direction of travel."
        ),
        "errors": (
            "Over time, from the bag's first image: camera position error after alignment, per-window depth and "
            "scene-flow errors. A gap in the flow error is a window whose last frame step had no moving pixel to score."
        ),
        "frames": (
            "Selected windows: input, predicted depth (one colour scale for every row, near to far), predicted "
            "motion mask, and scene-flow speed on one scale for every row; speeds below the motion threshold are dark."
        ),
    }
    for name, path in figures.items():
        lines += ["", captions[name], "", f"![{name}]({path.name})"]
    return "\n".join(lines) + "\n"


def _predicts_no_motion(ev: BagEvaluation) -> str:
    """A sentence when the model flagged no moving pixel in any window although the scene moves, else ""."""
    snaps = [sn for sn in ev.snapshots if sn.motion_mask is not None]
    if "motion_iou" in ev.metrics and ev.metrics["motion_iou"] == 0.0 and snaps and not any(sn.motion_mask.any() for sn in snaps):
        return (
            "No motion was found: the motion masks are empty and the scene flow is that of a static scene, "
            "so the flow and mask rows equal the no-motion baseline. (The embedded default model's decoder did not "
            "learn motion; motion_source flow, the default for it, finds motion from optical flow instead: "
            "see models/vdpm_default.md and docs/motion.md.)"
        )
    return ""


def _origin_ns(ev: BagEvaluation) -> int:
    """The time axes start at the bag's first image (windows start later: they need window_size frames)."""
    candidates = [ev.first_stamp_ns] if ev.first_stamp_ns is not None else []
    candidates += [r.stamp_ns for r in ev.records[:1]]
    if ev.trajectory is not None and len(ev.trajectory.stamps_ns):
        candidates.append(int(ev.trajectory.stamps_ns[0]))
    return min(candidates) if candidates else 0


def _arrows(ax, xy: np.ndarray, color: str) -> None:
    """A few arrows along a path ``[N, 2]`` showing which way it was travelled."""
    if len(xy) < 3:
        return
    for i in np.linspace(0, len(xy) - 2, min(6, len(xy) - 1)).round().astype(int):
        ax.annotate("", xy=xy[i + 1], xytext=xy[i], arrowprops={"arrowstyle": "->", "color": color, "lw": 1.5})


def _trajectory_figure(ev: BagEvaluation, path: Path) -> Path:
    import matplotlib.pyplot as plt

    tr = ev.trajectory
    est = tr.estimate_aligned[:, :3, 3] if tr is not None else ev.estimate.poses[:, :3, 3]
    ref = tr.groundtruth[:, :3, 3] if tr is not None else est
    # Plot the two axes along which the ground truth (or the estimate) moves most: a top view for a ground robot.
    axes = np.argsort(ref.std(axis=0))[::-1][:2]
    names = "xyz"
    fig, ax = plt.subplots(figsize=(6, 5))
    if tr is not None:
        ax.plot(ref[:, axes[0]], ref[:, axes[1]], "k-", lw=2, label="ground truth")
        _arrows(ax, ref[:, axes], "k")
        ax.set_title(f"ATE {ev.metrics.get('ate_m', float('nan')):.4f} m ({tr.source})")
        ax.set_xlabel(f"{names[axes[0]]} (m)")
        ax.set_ylabel(f"{names[axes[1]]} (m)")
    else:
        ax.set_title("stitched trajectory (no ground truth in the bag)")
        ax.set_xlabel(f"{names[axes[0]]} (odometry frame units)")
        ax.set_ylabel(f"{names[axes[1]]} (odometry frame units)")
    label = "vdpm (aligned)" if tr is not None else "vdpm"
    ax.plot(est[:, axes[0]], est[:, axes[1]], "C1.-", lw=1, label=label)
    _arrows(ax, est[:, axes], "C1")
    ax.plot(*ref[0, axes], "ko", ms=6, label="start")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _errors_figure(ev: BagEvaluation, path: Path) -> Path:
    import matplotlib.pyplot as plt

    t0 = _origin_ns(ev)
    rec_t = np.array([(r.stamp_ns - t0) * 1e-9 for r in ev.records])

    def series(key: str) -> np.ndarray:
        return np.array([getattr(r, key) for r in ev.records])

    panels = []  # (label, times, values, no-motion baseline or None)
    if ev.trajectory is not None:
        panels.append(("position error (m)\nafter alignment", (ev.trajectory.stamps_ns - t0) * 1e-9, ev.trajectory.position_errors, None))
    if np.isfinite(series("depth_abs_rel")).any():
        panels.append(("depth Abs Rel", rec_t, series("depth_abs_rel"), None))
    if np.isfinite(series("flow_epe_dynamic")).any():
        panels.append(("scene-flow EPE (m)\nmoving pixels", rec_t, series("flow_epe_dynamic"), series("flow_epe_dynamic_no_motion")))
    panels.append(("window latency (s)", rec_t, series("latency_s"), None))
    fig, axs = plt.subplots(len(panels), 1, figsize=(7, 2.0 * len(panels)), sharex=True, squeeze=False)
    for ax, (label, x, y, baseline) in zip(axs[:, 0], panels):
        ax.plot(x, y, ".-")
        if baseline is not None:
            ax.plot(x, baseline, "k--", lw=1, label="no-motion baseline")
            unscored = ~np.isfinite(y)
            if unscored.any():  # say what a gap is instead of leaving it unexplained
                ax.plot(x[unscored], np.zeros(unscored.sum()), "x", color="0.5", label="nothing moved: not scored")
            ax.legend(fontsize=7)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axs[-1, 0].set_xlabel("time since the bag's first image (s)")
    axs[-1, 0].set_xlim(left=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _frames_figure(ev: BagEvaluation, path: Path) -> Path:
    import matplotlib.pyplot as plt

    snaps = ev.snapshots
    t0 = _origin_ns(ev)
    # One colour scale per column for every row: a per-row scale would make noise in one window look like structure.
    depths = np.concatenate([s.depth[np.isfinite(s.depth)].ravel() for s in snaps])
    near, far = np.percentile(depths, [2, 98]) if depths.size else (0.0, 1.0)
    speeds = [s for s in snaps if s.flow_speed is not None]
    vmax = max([np.nanpercentile(s.flow_speed, 99) for s in speeds if np.isfinite(s.flow_speed).any()] + [0.0])
    floors = [s.moving_speed for s in speeds if np.isfinite(s.moving_speed)]
    vmax = max(vmax, 2.0 * max(floors, default=0.0)) or 1.0  # below the motion threshold is the bottom half
    any_gt = any(s.gt_motion_mask is not None and s.gt_motion_mask.any() for s in snaps)
    units = snaps[0].units
    length = "m" if units == "m" else "model units"
    fig, axs = plt.subplots(len(snaps), 4, figsize=(13, 2.7 * len(snaps)), squeeze=False)
    for row, s in zip(axs, snaps):
        row[0].imshow(s.rgb)
        row[0].set_title(f"input, t = {(s.stamp_ns - t0) * 1e-9:.2f} s", fontsize=8)
        im = row[1].imshow(np.where(np.isfinite(s.depth), s.depth, np.nan), cmap="turbo", vmin=near, vmax=far)
        bar = fig.colorbar(im, ax=row[1], fraction=0.046)
        bar.set_label(f"depth ({length})", fontsize=7)
        bar.ax.text(0.5, 1.02, "far", transform=bar.ax.transAxes, ha="center", va="bottom", fontsize=7)
        bar.ax.text(0.5, -0.02, "near", transform=bar.ax.transAxes, ha="center", va="top", fontsize=7)
        row[1].set_title("predicted depth", fontsize=8)
        if s.motion_mask is not None:
            row[2].imshow(s.rgb, alpha=0.5)
            row[2].imshow(np.ma.masked_where(s.motion_mask == 0, s.motion_mask), cmap="autumn", alpha=0.7)
            title = "motion mask (red)"
            if s.gt_motion_mask is not None and s.gt_motion_mask.any():
                row[2].contour(s.gt_motion_mask.astype(float), levels=[0.5], colors="cyan", linewidths=1)
            if any_gt:
                title += "; cyan: ground truth"
            row[2].set_title(title, fontsize=8)
        if s.flow_speed is not None:
            im = row[3].imshow(s.flow_speed, cmap="magma", vmin=0.0, vmax=vmax)
            bar = fig.colorbar(im, ax=row[3], fraction=0.046)
            bar.set_label(f"{length}/s", fontsize=7)
            row[3].set_title("scene-flow speed", fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
