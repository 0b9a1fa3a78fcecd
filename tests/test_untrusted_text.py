"""Untrusted strings in log lines: clipped, escaped, cheap."""

from __future__ import annotations

import pytest

from vdpm_ros.messages.untrusted import clip_for_log


def test_short_strings_are_shown_whole_with_quotes():
    assert clip_for_log("rgb8") == "'rgb8'"
    assert clip_for_log(b"\xff\xd8") == "b'\\xff\\xd8'"
    assert clip_for_log(42) == "'42'"


@pytest.mark.parametrize("value", ["a" * 5000, "é" * 200, b"\x00" * 500, "x" * 79, "\n" * 100, bytearray(b"y" * 300)])
def test_never_more_than_80_characters(value):
    out = clip_for_log(value)
    assert len(out) <= 80
    if len(repr(value)) > 80:
        assert out.endswith("…")


def test_control_characters_are_escaped():
    out = clip_for_log("rgb8\n[ERROR] forged line\x1b[31m")
    assert "\n" not in out and "\x1b" not in out and "\\n" in out


def test_a_failing_str_is_survived():
    class Hostile:
        def __str__(self):
            raise RuntimeError("no")

    assert "unprintable Hostile" in clip_for_log(Hostile())


def test_limit_is_checked():
    with pytest.raises(ValueError, match="at least 8"):
        clip_for_log("x", limit=3)
    assert len(clip_for_log("z" * 100, limit=20)) == 20
