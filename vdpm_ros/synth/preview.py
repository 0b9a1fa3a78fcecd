"""A contact sheet of a generated sequence and its ground truth, to see what the generator makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sequence import SyntheticSequence


def preview_frames(num_frames: int, shown: int = 4) -> list[int]:
    """Up to ``shown`` frame indices spread evenly over the sequence, first and last included."""
    return sorted({int(round(i)) for i in np.linspace(0, num_frames - 1, min(shown, num_frames))})


def write_preview(seq: SyntheticSequence, path: str | Path, shown: int = 4) -> Path:
    """PNG with one row per shown frame: image, depth, object ids, motion mask, and the distance each
    pixel's point travels over the whole sequence (max over target times of ``|P_i(t_j) - P_i(t_i)|``).
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    frames = preview_frames(seq.num_frames, shown)
    idx = np.arange(seq.num_frames)
    travel = np.linalg.norm(seq.pointmaps - seq.pointmaps[idx, idx][None], axis=-1).max(axis=0)  # [S, H, W]
    travel = np.where(seq.valid, travel, np.nan)
    depth = np.where(seq.valid, seq.depth, np.nan)
    depth_range = (np.nanpercentile(depth, 1), np.nanpercentile(depth, 99))
    travel_max = max(float(np.nanmax(travel)), 1e-6)
    columns = ("image", "depth (m)", "object id", "motion mask", "travel over the window (m)")
    fig, axs = plt.subplots(len(frames), len(columns), figsize=(3.0 * len(columns), 2.4 * len(frames)), squeeze=False)
    for row, i in zip(axs, frames):
        row[0].imshow(seq.images[i])
        row[0].set_ylabel(f"frame {i}, t = {seq.timestamps[i]:.2f} s", fontsize=8)
        im = row[1].imshow(depth[i], cmap="turbo", vmin=depth_range[0], vmax=depth_range[1])
        fig.colorbar(im, ax=row[1], fraction=0.046)
        row[2].imshow(seq.object_ids[i], cmap="tab10", interpolation="nearest", vmin=0, vmax=9)
        row[3].imshow(seq.images[i], alpha=0.4)
        row[3].imshow(np.ma.masked_where(~seq.motion_mask[i], seq.motion_mask[i]), cmap="autumn", alpha=0.8, interpolation="nearest")
        im = row[4].imshow(travel[i], cmap="magma", vmin=0, vmax=travel_max)
        fig.colorbar(im, ax=row[4], fraction=0.046)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, title in zip(axs[0], columns):
        ax.set_title(title, fontsize=9)
    fig.suptitle(
        f"seed {seq.seed}: {seq.num_frames} frames, {len(seq.objects)} objects, {seq.motion_mask.mean():.1%} moving pixels", fontsize=10
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
