"""The intact part of an MCAP file whose writer was killed: no footer, no summary, a cut-off last record.

An MCAP file is a magic number followed by length-prefixed records (opcode u8, length u64 LE,
content) and ends with a DataEnd record, a summary, a Footer and the magic again. A recorder that is
killed leaves everything up to its last complete record (rosbag2 writes whole chunks of messages).
:func:`scan_intact` finds where that is, and :func:`write_repaired` copies it and appends an empty
DataEnd and a Footer without summary, which any MCAP reader (rosbags included) reads by scanning.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\x89MCAP0\r\n"
_OP_FOOTER, _OP_MESSAGE, _OP_CHUNK, _OP_DATA_END = 0x02, 0x05, 0x06, 0x0F
_LAST_OPCODE = 0x10  # Data End is 0x0F; 0x10 is reserved; 0x80-0xFF are user records
_RECORD_HEADER = 9
_FOOTER_SIZE = 1 + 8 + 20 + 8  # opcode, length, footer fields, closing magic


@dataclass(frozen=True)
class McapScan:
    """Where an MCAP file's intact records end.

    Attributes:
        file_size: bytes in the file.
        intact_end: offset just past the last complete record (the data section's end when complete).
        records: complete records before ``intact_end`` (the header record included); 0 when complete.
        message_records: of those, top-level messages and chunks (each chunk holds many messages).
        complete: True when the file ends with its Footer and magic, or has a DataEnd (it was closed,
            not killed); its records are then not walked.
    """

    file_size: int
    intact_end: int
    records: int
    message_records: int
    complete: bool

    @property
    def lost_bytes(self) -> int:
        return self.file_size - self.intact_end


def scan_intact(path: str | Path) -> McapScan | None:
    """Walk the records of ``path``; None when it does not start with the MCAP magic."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        if f.read(8) != MAGIC:
            return None
        if size >= 8 + _FOOTER_SIZE:
            f.seek(size - _FOOTER_SIZE)
            tail = f.read(_FOOTER_SIZE)
            if tail[0] == _OP_FOOTER and tail[-8:] == MAGIC:  # closed by its writer (damage elsewhere is the reader's to find)
                return McapScan(size, size, 0, 0, complete=True)
        pos, records, messages = 8, 0, 0
        while pos + _RECORD_HEADER <= size:
            f.seek(pos)
            head = f.read(_RECORD_HEADER)
            op, length = head[0], struct.unpack("<Q", head[1:])[0]
            if op == 0 or _LAST_OPCODE < op < 0x80:
                break  # not a record: garbage (a zero-filled tail of a preallocated file, say)
            end = pos + _RECORD_HEADER + length
            if end > size:
                break  # the record being written when the recorder died
            if op in (_OP_DATA_END, _OP_FOOTER):
                return McapScan(size, pos, records, messages, complete=True)
            records += 1
            messages += op in (_OP_MESSAGE, _OP_CHUNK)
            pos = end
    return McapScan(size, pos, records, messages, complete=False)


def write_repaired(src: str | Path, dst: str | Path, scan: McapScan) -> Path:
    """Copy the intact records of ``src`` into ``dst`` and close the file properly (DataEnd, Footer, magic)."""
    dst = Path(dst)
    with Path(src).open("rb") as fin, dst.open("wb") as fout:
        remaining = scan.intact_end
        while remaining > 0:
            block = fin.read(min(remaining, 1 << 22))
            if not block:
                break
            fout.write(block)
            remaining -= len(block)
        fout.write(bytes([_OP_DATA_END]) + struct.pack("<QI", 4, 0))
        # Footer: summary start 0 and summary offset start 0 (no summary: readers scan), CRC 0 (none).
        fout.write(bytes([_OP_FOOTER]) + struct.pack("<QQQI", 20, 0, 0, 0))
        fout.write(MAGIC)
    return dst
