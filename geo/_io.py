"""Small I/O helpers shared by loaders and writers: text decoding and atomic writes."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import geopandas as gpd

from geo._errors import DataError, Problem

# Python's csv module refuses cells over 131,072 characters with a bare csv.Error; allow long
# cells so the validators can name the row and field ("longer than 300 characters").
csv.field_size_limit(64 * 1024 * 1024)

#: Encodings tried in order for CSV text. GB18030 is a superset of GBK/GB2312, which is what
#: Excel writes for "CSV" on a Chinese-locale Windows machine.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), else GB18030; return (text, encoding)."""
    for encoding in CSV_ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and raw.startswith(b"\xef\xbb\xbf"):
            return text, "utf-8 with BOM"
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise UnicodeDecodeError("utf-8/gb18030", raw[:1], 0, 1, "neither UTF-8 nor GB18030")


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w",
                 **kwargs: object) -> Iterator[IO[Any]]:
    """Write to a temp file next to ``path`` and rename it into place only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    Path(tmp).chmod(_default_mode())  # mkstemp makes 0600 files; a data file should be readable
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:  # type: ignore[call-overload]
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Read a vector file through pyogrio; GDAL's complaints become one clear DataError."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gdf = gpd.read_file(path, engine="pyogrio")
        except Exception as exc:  # pyogrio raises several GDAL-derived error types
            notes = "; ".join(str(w.message) for w in caught)
            raise DataError(Problem(str(path), None, None, None,
                                    f"cannot read as a vector file: {exc}"
                                    + (f" (GDAL: {notes})" if notes else ""))) from exc
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            raise DataError(Problem(str(path), None, None, None, f"GDAL: {w.message}"))
    if not isinstance(gdf, gpd.GeoDataFrame):  # e.g. a CSV: a table with no geometry column
        raise DataError(Problem(str(path), None, "geometry", None,
                                "no geometry: expected a vector file (GeoJSON, GeoPackage, "
                                "Shapefile) with points or polygons"))
    return gdf
