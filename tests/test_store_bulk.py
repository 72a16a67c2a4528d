"""The store's bulk paths give the same bytes and frames as the one-at-a-time code they replace.

Point blobs packed by numpy against ``point_blob``; records split with the reader's line count
against their exact source text; the stored validated frame read back with the same values,
dtypes and index, its low-cardinality object text shared per value; the industry filter decided
once per distinct list against a row-by-row decision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from geo import catalog
from geo._errors import InputError
from geo.atlas import load_atlas
from geo.query import Filter
from geo.settings import bundled_data_dir
from geo.store import csvrows, gpkg, snapshot


def test_point_blobs_are_the_bytes_point_blob_makes():
    lon = np.array([121.2345678, -0.0, 180.0, 1e-300, 121.0])
    lat = np.array([31.0, 0.0, -90.0, 2.5, np.nextafter(31.0, 32.0)])
    blobs = gpkg.point_blobs(lon, lat)
    assert blobs == [gpkg.point_blob(x, y) for x, y in zip(lon, lat, strict=True)]
    assert all(type(b) is bytes and len(b) == 29 for b in blobs)
    assert [gpkg.blob_lonlat(b) for b in blobs] == list(zip(lon.tolist(), lat.tolist(),
                                                            strict=True))
    assert gpkg.point_blobs([], []) == []
    with pytest.raises(InputError, match="2 longitudes but 1 latitudes"):
        gpkg.point_blobs([1.0, 2.0], [3.0])


def test_split_records_keeps_each_records_source_text():
    raw = (b'id,name\r\n'
           b'A-1,"two\nlines"\r\n'
           b'\r\n'                       # blank: left out, as the loader leaves it out
           b' , \r\n'                    # only spaces: left out too
           b'A-2,"quoted ""x"", comma"\r\n'
           b'A-3,"three\r\nline\rends"\r\n'
           b'A-4,last')
    text = csvrows.split_records(raw, "facilities.csv")
    assert text.header == ["id", "name"] and text.header_line == "id,name\r\n"
    assert text.newline == "\r\n"
    assert text.records == [
        (["A-1", "two\nlines"], 'A-1,"two\nlines"\r\n'),
        (["A-2", 'quoted "x", comma'], 'A-2,"quoted ""x"", comma"\r\n'),
        (["A-3", "three\r\nline\rends"], 'A-3,"three\r\nline\rends"\r\n'),
        (["A-4", "last"], "A-4,last"),
    ]
    # the records' texts put back together are the file (but for the rows left out)
    assert text.header_line + "".join(s for _, s in text.records) == raw.decode().replace(
        "\r\n\r\n , \r\n", "\r\n")


def test_stored_frame_reads_back_equal_with_text_shared_per_value():
    facilities = load_atlas(bundled_data_dir()).facilities
    big = pd.concat([facilities] * 3)  # enough rows for the dictionary encoding to apply
    big.index = pd.Index([f"{i}-{k}" for k in range(3) for i in facilities.index],
                         name=facilities.index.name)
    fids = np.arange(10, 10 + len(big), dtype=np.int64)
    frame, back_fids = snapshot.decode(snapshot.encode(big, fids))
    assert_geodataframe_equal(frame, big, check_dtype=True, check_index_type=True)
    assert (back_fids == fids).all()
    object_columns = [c for c in big.columns if big[c].dtype == object]
    assert "industries" in object_columns
    for column in object_columns:
        values = frame[column].to_numpy()
        # one Python string per distinct value (as a CSV read makes them), not one per row
        assert len({id(v) for v in values}) == len(set(values)), column


@pytest.mark.parametrize("wanted", [["auto"], ["auto_icv"], ["ic", "biomed"]])
def test_industry_filter_decides_each_list_as_row_by_row(wanted):
    facilities = load_atlas(bundled_data_dir()).facilities.copy()
    industries = facilities["industries"].copy()
    industries.iloc[3] = None  # a missing cell names no industry
    facilities["industries"] = industries
    expected = [text is not None and any(k in wanted or catalog.industry_layer(k) in wanted
                                         for k in str(text).split(";") if k)
                for text in industries]
    mask = Filter.create(industries=wanted).mask(facilities)
    assert mask.tolist() == expected
    assert mask.any() and not mask.all()
