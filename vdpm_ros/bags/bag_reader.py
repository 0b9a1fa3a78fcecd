"""Open any bag ``rosbags`` reads, with one error type whose message names the file, the fault and the fix.

``rosbags`` raises its own exception types (and, on some garbage, ``UnicodeDecodeError`` or
``struct.error``) with terse messages such as "File end magic is invalid."; the ``vdpm`` commands
need one line a user can act on. :func:`open_bag` raises :class:`BagReadError` (a ``ValueError``,
so the CLI prints it and exits with 2) before or while reading, and recovers what it can:

- an MCAP file, or a rosbag2 directory without ``metadata.yaml`` holding one, whose recorder was
  killed (no footer, a cut-off last record): the intact records are read and a warning says how many
  messages were recovered (see :mod:`vdpm_ros.bags.mcap_recovery`);
- a rosbag2 directory whose ``metadata.yaml`` does not parse but which holds one .mcap file: that file.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from .mcap_recovery import scan_intact, write_repaired

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
ROS1_MAGIC = b"#ROSBAG V2.0\n"
_FORMATS = "a rosbag2 directory (with metadata.yaml), an .mcap or .db3 file, or a ROS 1 .bag"
_MESSAGE_LIMIT = 200  # characters of a library's error message quoted in ours


class BagReadError(ValueError):
    """A bag cannot be read: the message names the file, what is wrong with it and what to do.

    Attributes:
        path: the bag as the user gave it.
    """

    def __init__(self, path: str | Path, problem: str, hint: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        super().__init__(f"bag {self.path}: {problem}" + (f"; {hint}" if hint else ""))


class BagMessageError(BagReadError):
    """One message of a readable bag does not deserialise (the rest may be fine: callers may skip it)."""


@dataclass(frozen=True)
class Recovery:
    """What was read of an unfinished recording, and what was lost."""

    source: Path
    messages: int
    lost_bytes: int
    why: str

    def __str__(self) -> str:
        if not self.lost_bytes:
            return f"{self.source}: {self.why}; read the file by itself: {self.messages} messages"
        return (
            f"{self.source}: {self.why}; read its intact part: {self.messages} messages recovered, "
            f"the last {self.lost_bytes} bytes (the record being written when it stopped) lost"
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


class _RepairedCopies:
    """Repaired copies of unfinished MCAP files, made once per process and file version, deleted at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._copies: dict[tuple[str, int, int], tuple[Path, int]] = {}
        self._announced: set[str] = set()

    def get(self, src: Path) -> tuple[Path, int]:
        """(repaired copy, bytes lost) for the unfinished MCAP file ``src``."""
        st = src.stat()
        key = (str(src.resolve()), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key not in self._copies:
                scan = scan_intact(src)
                assert scan is not None and not scan.complete
                if self._dir is None:
                    self._dir = Path(tempfile.mkdtemp(prefix="vdpm_recovered_"))
                    atexit.register(shutil.rmtree, self._dir, True)
                dst = self._dir / f"{len(self._copies)}_{src.name}"
                write_repaired(src, dst, scan)
                self._copies[key] = (dst, scan.lost_bytes)
            return self._copies[key]

    def announce_once(self, text: str) -> None:
        """Log ``text`` as a warning the first time (a command opens a bag several times)."""
        with self._lock:
            if text in self._announced:
                return
            self._announced.add(text)
        log.warning(text)


_SESSION = _RepairedCopies()


def _head(path: Path, n: int) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


def _check_file(path: Path, shown: Path) -> None:
    """Refuse a file that cannot be a bag of the kind its suffix says, before rosbags sees it."""
    size = path.stat().st_size
    if size == 0:
        raise BagReadError(shown, f"{path.name} is empty (0 bytes)", "the recording never wrote anything, or the copy failed; use another bag")
    suffix = path.suffix.lower()
    if suffix == ".db3" and _head(path, 16) != SQLITE_MAGIC:
        raise BagReadError(shown, f"{path.name} is not an sqlite3 database", f"give {_FORMATS}")
    if suffix == ".bag" and _head(path, len(ROS1_MAGIC)) != ROS1_MAGIC:
        raise BagReadError(shown, f"{path.name} is not a ROS 1 bag (no '#ROSBAG V2.0' header)", f"give {_FORMATS}")
    if suffix not in (".mcap", ".db3", ".bag"):
        raise BagReadError(shown, f"unrecognised bag format {path.suffix or '(no suffix)'!r}", f"give {_FORMATS}")


def _mcap_source(path: Path, shown: Path, why: str) -> tuple[Path, Recovery | None]:
    """``path`` itself when it is a complete MCAP file, else a repaired copy of its intact part."""
    scan = scan_intact(path)
    if scan is None:
        raise BagReadError(shown, f"{path.name} is not an MCAP file (it does not start with the MCAP magic)", f"give {_FORMATS}")
    if scan.complete:
        return path, None
    if scan.message_records == 0:
        raise BagReadError(
            shown, f"{path.name} is an unfinished MCAP recording ({why}) with no complete message in it",
            "the recorder stopped before it wrote its first chunk; record again",
        )  # fmt: skip
    copy, lost = _SESSION.get(path)
    return copy, Recovery(path, 0, lost, why)  # messages counted once rosbags has opened the copy


def _sources(path: Path) -> tuple[list[Path], Recovery | None]:
    """What to hand to rosbags for the bag the user named, and the recovery made (if any)."""
    if not path.exists():
        raise FileNotFoundError(f"bag {path} does not exist")
    if path.is_dir():
        mcaps = sorted(path.glob("*.mcap"))
        if (path / "metadata.yaml").is_file():
            return [path], None
        if len(mcaps) == 1:
            return _pick(mcaps[0], path, "no metadata.yaml beside it, so the recording was not closed: killed?")
        if len(mcaps) > 1:
            raise BagReadError(
                path, f"no metadata.yaml and {len(mcaps)} .mcap files: a split recording that was not closed",
                f"rebuild the metadata with 'ros2 bag reindex {path}', or give one of the .mcap files",
            )  # fmt: skip
        if any(path.glob("*.db3")):
            raise BagReadError(
                path, "no metadata.yaml beside its .db3 file(s), so the recording was not closed: killed?",
                f"rebuild the metadata with 'ros2 bag reindex {path} -s sqlite3'",
            )  # fmt: skip
        raise BagReadError(path, "not a rosbag2 directory: no metadata.yaml and no .mcap or .db3 file in it", f"give {_FORMATS}")
    return _pick(path, path, "no MCAP footer: the recorder was killed or the copy was cut short")


def _pick(file: Path, shown: Path, why: str) -> tuple[list[Path], Recovery | None]:
    """The sources for one bag file; ``why`` says why it would be unfinished if it turns out so."""
    _check_file(file, shown)
    if file.suffix.lower() == ".mcap":
        source, recovery = _mcap_source(file, shown, why)
        return [source], recovery
    return [file], None


def _explain(shown: Path, sources: Sequence[Path], exc: BaseException) -> BagReadError:
    """rosbags' exception while opening -> one line with the file, the fault and the fix."""
    what = _one_line(exc)
    source = sources[0]
    if source.is_dir():
        if "metadata" in what.lower() or "yaml" in what.lower():
            return BagReadError(shown, f"its metadata.yaml cannot be read ({what})", f"restore it, or rebuild it with 'ros2 bag reindex {shown}'")
        return BagReadError(shown, f"the rosbag2 storage cannot be read ({what})", "the recording or its copy is damaged; use another copy")
    suffix = source.suffix.lower()
    if suffix == ".db3":
        return BagReadError(shown, f"the sqlite3 bag cannot be read ({what})", "the database is damaged (a recording killed mid-write, or a partial copy); use another copy")
    if suffix == ".bag":
        return BagReadError(
            shown, f"the ROS 1 bag cannot be read ({what}): damaged, or not closed by its recorder",
            f"with ROS 1 tools, 'rosbag reindex {shown}' rebuilds a missing index",
        )  # fmt: skip
    return BagReadError(shown, f"the MCAP file cannot be read ({what})", "the file is damaged; use another copy")


class BagReader:
    """An open bag: ``connections``, ``messages(connections)`` and ``deserialize(raw, msgtype)`` as in
    ``rosbags.highlevel.AnyReader``, raising :class:`BagReadError` instead of the library's errors.

    Attributes:
        path: the bag as given.
        recovery: what was recovered when the bag is an unfinished recording, else None.
    """

    def __init__(self, path: Path, reader, recovery: Recovery | None) -> None:
        self.path = path
        self._reader = reader
        self.recovery = recovery

    @property
    def connections(self) -> list:
        return self._reader.connections

    def messages(self, connections: Sequence = ()) -> Iterator[tuple]:
        """(connection, receive time ns, raw bytes) in time order; all connections when none are given."""
        it = iter(self._reader.messages(connections=connections))
        n = 0
        while True:
            try:
                item = next(it)
            except StopIteration:
                self._check_count(connections or self.connections, n)
                return
            except Exception as exc:
                raise BagReadError(
                    self.path, f"damaged after {n} readable messages ({_one_line(exc)})",
                    "the recording or its copy is corrupt; use another copy",
                ) from exc  # fmt: skip
            n += 1
            yield item

    def _check_count(self, connections: Sequence, n: int) -> None:
        # rosbags skips a chunk whose header is damaged without a word: compare with the bag's own count.
        expected = sum(int(getattr(c, "msgcount", 0) or 0) for c in connections)
        if n < expected:
            topics = ", ".join(sorted({c.topic for c in connections}))
            _SESSION.announce_once(
                f"bag {self.path}: only {n} of the {expected} messages on {topics} could be read: the file is damaged "
                "(the rest were used); use another copy for a complete result"
            )

    def deserialize(self, raw, msgtype: str):
        try:
            return self._reader.deserialize(raw, msgtype)
        except Exception as exc:
            raise BagMessageError(self.path, f"a {msgtype} message does not deserialise ({_one_line(exc)})") from exc


@contextlib.contextmanager
def open_bag(path: str | Path) -> Iterator[BagReader]:
    """Open a bag for reading (see the module docstring); ``FileNotFoundError`` when it does not exist.

    Raises :class:`BagReadError` when the bag cannot be opened, and from ``messages()`` when it
    turns out damaged while being read.
    """
    from rosbags.highlevel import AnyReader

    shown = Path(path)
    sources, recovery = _sources(shown)
    try:
        reader = AnyReader(sources)
        reader.open()
    except FileNotFoundError as exc:
        # rosbags says this for a directory without metadata.yaml too; what is missing is named here.
        raise BagReadError(shown, _one_line(exc), f"give {_FORMATS}") from exc
    except Exception as exc:
        mcaps = sorted(shown.glob("*.mcap")) if shown.is_dir() else []
        if len(mcaps) != 1 or sources != [shown]:
            raise _explain(shown, sources, exc) from exc
        # The directory does not read as a whole (metadata.yaml unreadable, or its .mcap file cut short):
        # the one .mcap file in it describes itself.
        sources, recovery = _pick(mcaps[0], shown, "no MCAP footer: the recording was cut short (killed, or a partial copy)")
        recovery = recovery or Recovery(mcaps[0], 0, 0, f"{shown} does not read as a rosbag2 directory ({_one_line(exc)})")
        try:
            reader = AnyReader(sources)
            reader.open()
        except Exception as exc2:
            raise _explain(shown, sources, exc2) from exc2
    try:
        if recovery is not None:
            recovery = Recovery(recovery.source, sum(c.msgcount for c in reader.connections), recovery.lost_bytes, recovery.why)
            _SESSION.announce_once(str(recovery))
        yield BagReader(shown, reader, recovery)
    finally:
        with contextlib.suppress(Exception):
            reader.close()
