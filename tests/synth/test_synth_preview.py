"""vdpm synth --preview: a contact sheet of the sequence and its ground truth."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vdpm_ros.cli.main import main
from vdpm_ros.synth.preview import preview_frames


def test_preview_frames_spread_over_the_sequence():
    assert preview_frames(30) == [0, 10, 19, 29]
    assert preview_frames(3) == [0, 1, 2]
    assert preview_frames(1) == [0]


def test_synth_writes_a_preview_with_one_row_per_shown_frame(tmp_path, capsys):
    png = tmp_path / "preview.png"
    assert (
        main(["synth", "--seed", "1001", "--frames", "6", "--size", "42", "56", "--out", str(tmp_path / "bag"), "--preview", str(png)]) == 0
    )
    assert f"wrote {png}" in capsys.readouterr().out
    with Image.open(png) as im:
        width, height = im.size
        pixels = np.asarray(im.convert("RGB"))
    assert width == 1500 and height == 960  # 5 columns of 3 in and 4 rows of 2.4 in at 100 dpi
    assert pixels.std() > 10  # pictures, not a blank canvas
