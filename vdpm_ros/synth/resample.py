"""A generated sequence seen at the network's input grid: the protocol's ground truth for any camera resolution.

Real cameras are larger than the network's input. To score the model alone (the synthetic protocol) on a
sequence rendered at camera resolution, the images go through the one preprocessing of the pipeline and
every ground-truth map is read at the camera pixel under each network pixel's centre (nearest: a point map
must never blend a foreground and a background point).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..preprocessing import TARGET_SIZE, ImageTransform, Mode, grid_pixel_sources, preprocess_frame
from .sequence import SyntheticSequence


def to_network_grid(seq: SyntheticSequence, mode: Mode = "crop", target: int = TARGET_SIZE) -> SyntheticSequence:
    """``seq`` as the network sees it: images preprocessed (exactly the pipeline's pixels, as uint8) and the
    ground truth (point maps, validity, depth, object ids, motion mask, intrinsics) on the network grid.

    A sequence already at the network size comes back unchanged in content.
    """
    tensors, transforms = zip(*(preprocess_frame(img, mode, target) for img in seq.images))
    if len({t.net_hw for t in transforms}) != 1:
        raise ValueError("the frames of a sequence must all have one size")
    tf = transforms[0]
    # Pillow's resize of uint8 pixels is uint8 and the pad is white: the float tensor is k / 255 exactly.
    images = np.stack([np.rint(t.permute(1, 2, 0).numpy() * 255.0).astype(np.uint8) for t in tensors])
    rows, cols, inside = grid_pixel_sources(tf)
    valid = seq.valid[:, rows, cols] & inside
    return dataclasses.replace(
        seq,
        images=images,
        pointmaps=seq.pointmaps[:, :, rows, cols],
        valid=valid,
        depth=np.where(valid, seq.depth[:, rows, cols], 0.0).astype(seq.depth.dtype),
        intrinsics=np.stack([tf.intrinsics_to_net(k) for k in seq.intrinsics]).astype(seq.intrinsics.dtype),
        object_ids=np.where(valid, seq.object_ids[:, rows, cols], 0).astype(seq.object_ids.dtype),
        motion_mask=seq.motion_mask[:, rows, cols] & valid,
    )


def on_grid(seq: SyntheticSequence, grid: ImageTransform) -> SyntheticSequence:
    """``seq``'s images and ground truth read at the pixels of an output grid over its camera images (nearest),
    so results published on that grid (``PipelineConfig.output_resolution``) are scored pixel for pixel."""
    if grid.net_hw == grid.raw_hw and grid.offset_xy == (0.0, 0.0):
        return seq
    rows, cols, inside = grid_pixel_sources(grid)
    valid = seq.valid[:, rows, cols] & inside
    return dataclasses.replace(
        seq,
        images=seq.images[:, rows, cols],
        pointmaps=seq.pointmaps[:, :, rows, cols],
        valid=valid,
        depth=np.where(valid, seq.depth[:, rows, cols], 0.0).astype(seq.depth.dtype),
        intrinsics=np.stack([grid.intrinsics_to_net(k) for k in seq.intrinsics]).astype(seq.intrinsics.dtype),
        object_ids=np.where(valid, seq.object_ids[:, rows, cols], 0).astype(seq.object_ids.dtype),
        motion_mask=seq.motion_mask[:, rows, cols] & valid,
    )
