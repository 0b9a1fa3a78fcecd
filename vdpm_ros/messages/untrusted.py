"""Text from untrusted messages (encodings, formats, frame ids), made safe to put into one log line."""

from __future__ import annotations

#: Longest text of an untrusted string that goes into a log line, ellipsis included.
LOG_TEXT_LIMIT = 80
ELLIPSIS = "…"


def clip_for_log(value: object, limit: int = LOG_TEXT_LIMIT) -> str:
    """``repr`` of ``value`` cut to at most ``limit`` characters, ending in an ellipsis when cut.

    ``repr`` escapes newlines, control and terminal escape characters, so a message field cannot
    forge log lines or recolour a terminal. Only the head of a long value is ever formatted (a
    5 MB encoding string costs no more than an 80-character one). ``str`` and ``bytes`` keep
    their quotes (``'rgb8'``, ``b'\\xff'``); anything else is shown as ``repr(str(value))``.
    """
    if limit < 8:
        raise ValueError(f"limit must be at least 8 characters, got {limit}")
    if isinstance(value, (bytes, bytearray, memoryview)):
        head: str | bytes = bytes(value[:limit])
        cut = len(value) > limit
    else:
        text = value if isinstance(value, str) else _safe_str(value)
        head, cut = text[:limit], len(text) > limit
    shown = repr(head)
    if cut or len(shown) > limit:
        shown = shown[: limit - len(ELLIPSIS)] + ELLIPSIS
    return shown


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception as exc:  # a __str__ that raises must not take the log line with it
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
