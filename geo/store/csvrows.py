"""Facility CSV text kept exactly: each record's source line, and rows written back alike."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from geo._errors import DataError, Problem
from geo._io import decode_text

#: How a file's text was encoded, as named by ``geo._io.decode_text``, to Python codecs.
_ENCODINGS = {"utf-8": "utf-8", "utf-8 with BOM": "utf-8", "gb18030": "gb18030"}


@dataclass(frozen=True)
class CsvText:
    """A CSV file split into its header and records, each with its exact source text."""

    header: list[str]
    header_line: str
    records: list[tuple[list[str], str]]  # (cells, source text including its line ending)
    encoding: str  # as named by ``geo._io.decode_text``
    newline: str  # the header's line ending, used for rows written anew


def split_records(raw: bytes, file: str) -> CsvText:
    """Split CSV bytes into records, keeping each record's source text (quoted newlines too).

    Parameters
    ----------
    raw : bytes
        The file's content (UTF-8 with or without BOM, or GB18030).
    file : str
        The file name used in error messages.

    Returns
    -------
    CsvText
        Blank records are left out, as the loader leaves them out.
    """
    text, encoding = decode_text(raw)
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    records: list[tuple[list[str], str]] = []
    start = 0
    for cells in reader:
        # The reader counts the lines it took: one, or more for a quoted line break.
        end = reader.line_num
        source = lines[start] if end == start + 1 else "".join(lines[start:end])
        start = end
        # (the first cell, usually an id, settles it for almost every record)
        if (cells and cells[0].strip()) or any(cell.strip() for cell in cells):
            records.append((cells, source))
    if not records:
        raise DataError(Problem(file, None, None, None, "file is empty; expected a header row"))
    header_cells, header_line = records[0]
    ending = header_line[len(header_line.rstrip("\r\n")):] or "\n"
    return CsvText(header=[h.strip() for h in header_cells], header_line=header_line,
                   records=records[1:], encoding=encoding, newline=ending)


def format_record(cells: Sequence[str], newline: str) -> str:
    """One CSV record as the csv module writes it (minimal quoting), ending in ``newline``."""
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerow(cells)
    return out.getvalue()


def encode_text(text: str, encoding: str) -> bytes:
    """Text back to bytes in the encoding it was read with (BOM kept)."""
    data = text.encode(_ENCODINGS[encoding])
    return codecs.BOM_UTF8 + data if encoding == "utf-8 with BOM" else data


def join_records(parts: Sequence[str], newline: str) -> str:
    """Concatenate record texts, ending a record that lacked a line ending before another."""
    fixed = [p if p.endswith(("\n", "\r")) or i == len(parts) - 1 else p + newline
             for i, p in enumerate(parts)]
    return "".join(fixed)
