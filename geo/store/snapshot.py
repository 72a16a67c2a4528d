"""The validated facility frame of one revision, kept in the store so opening need not revalidate.

``store init`` validates every row (the loader's rules) and annotates it (town membership);
that work is the same for every process that later opens the store to serve it. So the
result is written once, as an Arrow IPC stream in the ``atlas_snapshot`` table, with the
revision it belongs to and a fingerprint of the code that made it. A process opening the
store reads it back (columnar, no per-row Python) and validates only the rows changed since
that revision, the same incremental path a served edit takes. A snapshot made by other code
(rules, vocabularies, pandas or pyarrow changed) has another fingerprint and is ignored: the
store is then validated in full, as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

#: The bytes layout of a snapshot; a new layout gets a new number (and so a new fingerprint).
FORMAT = 1
#: Arrow IPC buffer compression (the reader detects it, so either kind of snapshot reads).
COMPRESSION = "lz4"
#: The modules whose rules decide what a validated, annotated facility row is.
_RULE_MODULES = ("facilities.py", "atlas.py", "catalog.py", "boundaries.py", "crs.py",
                 "settings.py", "placement.py")
_ID = "__id__"
_FID = "__fid__"
_X, _Y = "__x__", "__y__"


def fingerprint(columns: tuple[str, ...]) -> str:
    """A digest of the code that validates and annotates facilities, and of the data stack.

    Parameters
    ----------
    columns : tuple of str
        The facility columns of the running code.

    Returns
    -------
    str
        Hex digest; a snapshot is used only when it carries the same one.
    """
    digest = hashlib.sha256(f"{FORMAT}|{','.join(columns)}|pandas {pd.__version__}|"
                            f"pyarrow {pa.__version__}|geopandas {gpd.__version__}|"
                            f"shapely {shapely.__version__}".encode())
    geo_dir = Path(__file__).resolve().parents[1]
    for name in _RULE_MODULES:
        path = geo_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def encode(facilities: gpd.GeoDataFrame, fids: np.ndarray) -> bytes:
    """An Atlas' facility frame (and the store row number of each row) as Arrow IPC bytes.

    Parameters
    ----------
    facilities : GeoDataFrame
        ``Atlas.facilities`` (index: facility id; point geometry in EPSG:4326).
    fids : ndarray of int
        The store's ``fid`` of each row, in the frame's order.

    Returns
    -------
    bytes
        An LZ4-compressed Arrow IPC stream.
    """
    geometry = facilities.geometry
    plain = pd.DataFrame(facilities.drop(columns=geometry.name))
    dtypes = {c: str(plain[c].dtype) for c in plain.columns}
    plain.insert(0, _ID, facilities.index.to_numpy())
    plain.insert(0, _FID, np.asarray(fids, dtype=np.int64))
    plain[_X] = shapely.get_x(geometry.to_numpy())
    plain[_Y] = shapely.get_y(geometry.to_numpy())
    table = pa.Table.from_pandas(plain, preserve_index=False)
    # Text columns with few distinct values (town, category, layers...) as dictionaries:
    # at 1e6 rows the stream is 95 MB instead of 160 MB (LZ4 alone), and reads faster.
    columns = []
    for column in table.columns:
        if ((pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
                and pc.count_distinct(column).as_py() < len(column) // 2):
            column = pc.dictionary_encode(column)
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=None, names=table.column_names,
                                 metadata=table.schema.metadata)
    meta = {"newtown": json.dumps({"dtypes": dtypes, "geometry": geometry.name,
                                   "columns": [str(c) for c in facilities.columns],
                                   "crs": facilities.crs.to_string() if facilities.crs else None,
                                   "index": facilities.index.name})}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           **{k.encode(): v.encode() for k, v in meta.items()}})
    sink = pa.BufferOutputStream()
    # LZ4 rather than zstd: at 1e6 rows the stream is ~95 MB instead of ~51 MB, but reading
    # it back takes about half the time, which every serving process pays when it opens.
    with pa.ipc.new_stream(sink, table.schema,
                           options=pa.ipc.IpcWriteOptions(compression=COMPRESSION)) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode(data: bytes) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The frame and row numbers :func:`encode` wrote (same columns, dtypes and index).

    Parameters
    ----------
    data : bytes
        What :func:`encode` returned.

    Returns
    -------
    (GeoDataFrame, ndarray of int)
    """
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    meta = json.loads(table.schema.metadata[b"newtown"])
    # Object columns stored as dictionaries become one Python string per distinct value,
    # shared by every row that holds it (as a CSV read makes them): 1e6 rows cost a take,
    # not 1e6 new strings, and hashing them later (a filter's factorize) is cached per value.
    shared: dict[str, np.ndarray] = {}
    names, columns = [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            if meta["dtypes"].get(name) == "object" and column.null_count == 0:
                shared[name] = _shared_objects(column)
                continue
            column = pc.dictionary_decode(column)
        names.append(name)
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=names, metadata=table.schema.metadata)
    frame = table.to_pandas()
    for name, values in shared.items():
        frame[name] = pd.Series(values, index=frame.index, dtype=object)
    fids = frame.pop(_FID).to_numpy(dtype=np.int64)
    index = pd.Index(frame.pop(_ID)).rename(meta["index"])
    x, y = frame.pop(_X).to_numpy(), frame.pop(_Y).to_numpy()
    for column, dtype in meta["dtypes"].items():
        if dtype == "object" and frame[column].dtype != object:
            frame[column] = frame[column].astype(object)
    frame.index = index
    geometry = gpd.GeoSeries(shapely.points(x, y), index=index, crs=meta["crs"])
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs=meta["crs"])
    out = out.rename_geometry(meta["geometry"]) if meta["geometry"] != "geometry" else out
    return out[meta["columns"]], fids


def _shared_objects(column: pa.ChunkedArray) -> np.ndarray:
    """A dictionary column without nulls as an object array, one ``str`` per distinct value."""
    column = column.unify_dictionaries()  # one dictionary for every chunk
    if column.num_chunks == 0:
        return np.zeros(0, dtype=object)
    uniques = np.asarray(column.chunk(0).dictionary.to_pylist(), dtype=object)
    codes = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    shared: np.ndarray = uniques[np.concatenate(codes)]
    return shared
