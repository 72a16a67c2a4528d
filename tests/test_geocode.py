"""Geocoding against a local fake of each provider: answers, refusals, retries, cache, files."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from dashboard.cli import geocode as cli_geocode
from dashboard.cli import main as newtown
from geo._errors import DataError
from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geo.geocode import (
    COORD_COLUMNS,
    GeocodeCache,
    Geocoder,
    GeocodeStopError,
    RateLimiter,
    geocode_csv,
    geocode_table,
    make_geocoder,
    nominatim_precision_m,
    partial_output_path,
    precision_for_level,
    read_address_csv,
    shanghai_outline,
)
from tests import geocode_server as fs
from tests.geocode_server import FakeGeocoder

KEYS = {"amap": "test-key", "tianditu": "test-key", "nominatim": None}


@pytest.fixture
def fake():
    with FakeGeocoder(slow_s=0.6) as server:
        yield server


@pytest.fixture(scope="module")
def outline():
    return shanghai_outline()


class Recorder:
    """Stands in for time.sleep / time.monotonic: records waits, advances a fake clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


_OPEN: list[Geocoder] = []


@pytest.fixture(autouse=True)
def _close_caches():
    yield
    while _OPEN:
        _OPEN.pop().close()


def make(provider, fake, tmp_path, **kw):
    """A client of the fake with a cache in tmp_path, no rate limit and tiny back-off.

    The timeout is generous: a loaded machine must not turn a normal answer into a retry
    (tests that want a timeout pass their own).
    """
    options = dict(key=KEYS[provider], base_url=fake.base_url, min_interval_s=0.0,
                   timeout_s=5.0, max_tries=3, backoff_s=0.001,
                   cache=GeocodeCache(tmp_path / "cache.sqlite"))
    options.update(kw)
    coder = Geocoder(provider, **options)
    _OPEN.append(coder)
    return coder


def table(*addresses, lon=None, lat=None):
    data = {"id": [f"R{n}" for n in range(1, len(addresses) + 1)], "address": list(addresses)}
    if lon is not None:
        data["lon"], data["lat"] = lon, lat
    return pd.DataFrame(data, dtype=object)


def write_csv(path, rows, *, encoding="utf-8", header=("id", "name_zh", "address")):
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_out(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "output must be UTF-8 with BOM for Excel"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def reasons(result):
    return {u.address: u.reason for u in result.unresolved}


def today() -> str:
    """Today's UTC date, read when asserting (a run that crosses midnight must not fail)."""
    return datetime.now(UTC).date().isoformat()


# ------------------------------------------------------------------------ precision tables


@pytest.mark.parametrize(("provider", "level", "metres"), [
    ("amap", "门牌号", 50.0), ("amap", "兴趣点", 100.0), ("amap", "道路", 500.0),
    ("amap", "乡镇", 3000.0), ("amap", "区县", 10000.0), ("amap", "市", None),
    ("amap", "省", None), ("amap", "国家", None), ("amap", "未知", None), ("amap", "", None),
    ("tianditu", "地名地址", 500.0), ("tianditu", "门牌号", 50.0), ("tianditu", "市", None),
])
def test_precision_follows_the_level_table(provider, level, metres):
    assert precision_for_level(provider, level) == metres


@pytest.mark.parametrize(("rank", "addresstype", "metres"), [
    (30, "building", 100.0), (26, "road", 500.0), (20, "neighbourhood", 1000.0),
    (19, "suburb", 2000.0), (16, "town", 3000.0), (12, "county", 10000.0),
    (8, "state", None), (None, "road", 500.0), (None, "city", None),
    (None, "office", 100.0), (None, "", None),
])
def test_nominatim_precision_from_rank_then_addresstype(rank, addresstype, metres):
    assert nominatim_precision_m(rank, addresstype) == metres


def test_precision_for_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="expected amap or tianditu"):
        precision_for_level("baidu", "门牌号")


# ------------------------------------------------------------------------------ answers


def test_amap_gcj02_answer_is_converted_to_wgs84(fake, tmp_path):
    result = geocode_table(table(fs.JIADING_GUANGJISUO), make("amap", fake, tmp_path))
    row = result.table.iloc[0]
    # What the fake sent: the WGS84 truth shifted to GCJ-02 and printed to 6 decimals.
    glon, glat = (float(f"{float(v):.6f}") for v in wgs84_to_gcj02(121.245, 31.389))
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert row["lon"] == pytest.approx(round(float(wlon), 6), abs=1e-9)
    assert row["lat"] == pytest.approx(round(float(wlat), 6), abs=1e-9)
    assert row["lon"] == pytest.approx(121.245, abs=2e-6)  # back on the WGS84 truth
    assert row["lat"] == pytest.approx(31.389, abs=2e-6)
    assert abs(row["lon"] - glon) > 3e-3  # the raw GCJ-02 point is ~450 m away: not stored
    assert row["coord_source"] == f"geocode:amap level=门牌号 {today()}"
    assert row["coord_precision_m"] == 50
    request = fake.requests[0]
    assert request["q:city"] == "上海市" and request["q:key"] == "test-key"
    assert result.counts["filled"] == 1 and result.unresolved == []


@pytest.mark.parametrize("provider", ["amap", "tianditu", "nominatim"])
def test_no_match_coarse_ambiguous_and_outside_are_left_empty_and_listed(
        provider, fake, tmp_path, outline):
    addresses = [fs.QINGPU_TOWN, fs.FENGXIAN_DISTRICT, fs.CITY_ONLY, fs.AMBIGUOUS, fs.BEIJING,
                 fs.HUAQIAO, fs.NO_MATCH, fs.ROAD_TWO_CLOSE]
    result = geocode_table(table(*addresses), make(provider, fake, tmp_path), outline=outline)
    expected = {fs.CITY_ONLY: "no match", fs.BEIJING: "outside Shanghai",
                fs.HUAQIAO: "outside Shanghai", fs.NO_MATCH: "no match",
                fs.AMBIGUOUS: "ambiguous"}
    if provider == "tianditu":
        del expected[fs.AMBIGUOUS]  # Tianditu returns one location: nothing to compare
    assert reasons(result) == expected
    out = result.table.set_index("address")
    for address in expected:
        assert all(out.at[address, c] == "" for c in COORD_COLUMNS), address
    assert out.at[fs.QINGPU_TOWN, "coord_precision_m"] == 3000
    assert out.at[fs.FENGXIAN_DISTRICT, "coord_precision_m"] == 10000
    # two road answers ~300 m apart are one place; Tianditu only ever gives the first
    assert out.at[fs.ROAD_TWO_CLOSE, "coord_precision_m"] == 500
    assert out.at[fs.ROAD_TWO_CLOSE, "lon"] == pytest.approx(121.25, abs=2e-6)
    counts = result.counts
    assert (counts["no_match"], counts["outside"]) == (2, 2)
    assert counts["ambiguous"] == (0 if provider == "tianditu" else 1)


def test_ambiguity_threshold_is_a_parameter_in_metres(fake, tmp_path):
    # The two road answers are ~300 m apart: ambiguous under a 100 m rule, one place at 1 km.
    strict = geocode_table(table(fs.ROAD_TWO_CLOSE), make("amap", fake, tmp_path),
                           ambiguous_m=100.0)
    assert reasons(strict) == {fs.ROAD_TWO_CLOSE: "ambiguous"}
    assert "0.3 km apart" in strict.unresolved[0].detail
    wide = geocode_table(table(fs.ROAD_TWO_CLOSE), make("amap", fake, tmp_path),
                         ambiguous_m=1000.0)
    assert wide.counts["filled"] == 1
    with pytest.raises(ValueError, match="metres > 0"):
        geocode_table(table("x"), make("amap", fake, tmp_path), ambiguous_m=0)


def test_the_city_outline_catches_what_the_bounding_box_lets_through(fake, tmp_path, outline):
    assert outline is not None
    bbox_only = geocode_table(table(fs.HUAQIAO), make("amap", fake, tmp_path), outline=None)
    assert bbox_only.counts["filled"] == 1  # Huaqiao (Kunshan) lies inside the rectangle
    with_outline = geocode_table(table(fs.HUAQIAO), make("amap", fake, tmp_path),
                                 outline=outline)
    assert reasons(with_outline) == {fs.HUAQIAO: "outside Shanghai"}


def test_tianditu_request_and_answer(fake, tmp_path):
    result = geocode_table(table(fs.SONGJIANG_POI), make("tianditu", fake, tmp_path))
    request = fake.requests[0]
    assert json.loads(request["q:ds"]) == {"keyWord": fs.SONGJIANG_POI}
    assert request["q:tk"] == "test-key"
    row = result.table.iloc[0]
    # CGCS2000 is taken as WGS84: no shift
    assert (row["lon"], row["lat"]) == (121.218, 31.053)
    assert row["coord_source"] == f"geocode:tianditu level=兴趣点 {today()}"
    assert row["coord_precision_m"] == 100


def test_nominatim_request_identifies_the_app(fake, tmp_path):
    result = geocode_table(table(fs.JIADING_GUANGJISUO), make("nominatim", fake, tmp_path))
    request = fake.requests[0]
    assert request["user_agent"].startswith("newtown-atlas/")
    assert request["q:format"] == "jsonv2" and request["q:q"] == fs.JIADING_GUANGJISUO
    assert "q:key" not in request and "q:city" not in request
    row = result.table.iloc[0]
    assert (row["lon"], row["lat"]) == (121.245, 31.389)
    assert row["coord_source"] == f"geocode:nominatim level=building {today()}"


# ------------------------------------------------------------------ rows already placed


def test_rows_with_coordinates_are_kept_and_never_requested(fake, tmp_path):
    frame = pd.DataFrame({
        "address": [fs.JIADING_GUANGJISUO, fs.SONGJIANG_POI, fs.QINGPU_TOWN, "", ""],
        "lon": ["121.100000", "", "abc", "", ""],
        "lat": ["31.200000", "", "31.1", "", ""],
        "coord_source": ["manual: surveyed", "", "", "", ""],
        "note": ["a", "b", "c", "d", ""],
    }, index=pd.Index([10, 20, 30, 40, 50], name="fid"), dtype=object)
    result = geocode_table(frame, make("amap", fake, tmp_path))
    out = result.table
    assert list(out.index) == [10, 20, 30, 40, 50]  # input index kept
    assert list(out.columns) == ["address", "lon", "lat", "coord_source", "note",
                                 "coord_precision_m"]
    assert out.loc[10, ["lon", "lat", "coord_source"]].tolist() == [
        "121.100000", "31.200000", "manual: surveyed"]
    assert out.loc[30, ["lon", "lat"]].tolist() == ["abc", "31.1"]  # left for a human
    assert [r["address"] for r in fake.requests] == [fs.SONGJIANG_POI]
    assert {(u.row, u.index, u.reason) for u in result.unresolved} == {
        (3, 30, "bad lon/lat"), (4, 40, "no address")}
    assert (result.counts["kept"], result.counts["blank"], result.counts["filled"]) == (1, 1, 1)


# ---------------------------------------------------------------------------- the cache


def test_second_run_is_answered_from_the_cache(fake, tmp_path):
    src = write_csv(tmp_path / "in.csv", [("A", "x", fs.JIADING_GUANGJISUO),
                                          ("B", "y", fs.NO_MATCH),
                                          ("C", "z", fs.JIADING_GUANGJISUO)])
    first = geocode_csv(src, tmp_path / "one.csv", make("amap", fake, tmp_path))
    assert fake.count() == 2  # the repeated address is answered from the cache already
    assert (first.counts["requests"], first.counts["cache_hits"]) == (2, 1)
    second = geocode_csv(src, tmp_path / "two.csv", make("amap", fake, tmp_path))
    assert fake.count() == 2, "a re-run must not call the provider"
    assert (second.counts["requests"], second.counts["cache_hits"]) == (0, 3)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    # The key includes the city: another city is another question.
    geocode_table(table(fs.JIADING_GUANGJISUO), make("amap", fake, tmp_path), city="苏州市")
    assert fake.count() == 3


def test_cache_stores_the_raw_answer(fake, tmp_path):
    geocode_table(table(fs.JIADING_GUANGJISUO), make("amap", fake, tmp_path))
    cache = GeocodeCache(tmp_path / "cache.sqlite")
    body, fetched_at = cache.get("amap", fake.base_url, fs.JIADING_GUANGJISUO, "上海市")
    assert json.loads(body)["geocodes"][0]["level"] == "门牌号"
    assert fetched_at.date().isoformat() == today()
    assert len(cache) == 1
    cache.close()


def test_errors_are_not_cached(fake, tmp_path):
    geocode_table(table(fs.ALWAYS_500), make("amap", fake, tmp_path, max_tries=2))
    geocode_table(table(fs.ALWAYS_500), make("amap", fake, tmp_path, max_tries=2))
    assert fake.count() == 4


# ------------------------------------------------------------------ retries and timing


def test_http_500_then_success_retries_with_backoff(fake, tmp_path):
    timing = Recorder()
    coder = make("amap", fake, tmp_path, backoff_s=0.5, sleep=timing.sleep, clock=timing.clock)
    result = geocode_table(table(fs.FLAKY), coder)
    assert result.counts["filled"] == 1 and fake.count() == 2
    assert timing.sleeps == [0.5]


def test_persistent_500_is_a_row_error_after_bounded_tries(fake, tmp_path):
    timing = Recorder()
    coder = make("amap", fake, tmp_path, max_tries=4, backoff_s=0.25, sleep=timing.sleep,
                 clock=timing.clock)
    result = geocode_table(table(fs.ALWAYS_500, fs.JIADING_GUANGJISUO), coder)
    assert timing.sleeps == [0.25, 0.5, 1.0]  # exponential, no wait after the last try
    assert fake.count() == 5
    [error] = result.unresolved
    assert (error.row, error.reason) == (1, "error")
    assert "no answer after 4 tries (last: HTTP 500)" in error.detail
    assert result.counts["filled"] == 1  # the run went on


def test_slow_answer_times_out_then_the_retry_succeeds(fake, tmp_path):
    result = geocode_table(table(fs.SLOW), make("amap", fake, tmp_path, timeout_s=0.2))
    assert result.counts["filled"] == 1
    assert fake.count() == 2


def test_requests_are_spaced_by_the_minimum_interval(fake, tmp_path):
    timing = Recorder()
    coder = make("nominatim", fake, tmp_path, min_interval_s=1.0, sleep=timing.sleep,
                 clock=timing.clock)
    geocode_table(table(fs.JIADING_GUANGJISUO, fs.SONGJIANG_POI, fs.JIADING_GUANGJISUO,
                        fs.QINGPU_TOWN), coder)
    # three requests (the repeat is a cache hit, which waits for nothing)
    assert fake.count() == 3
    assert timing.sleeps == pytest.approx([1.0, 1.0])


def test_rate_limiter_counts_time_already_spent():
    timing = Recorder()
    limiter = RateLimiter(1.0, timing.clock, timing.sleep)
    limiter.wait()
    timing.now += 0.25  # work between two requests
    limiter.wait()
    timing.now += 2.0
    limiter.wait()
    assert timing.sleeps == pytest.approx([0.75])


def test_public_nominatim_is_held_to_one_request_per_second():
    assert Geocoder("nominatim").min_interval_s == 1.0
    with pytest.raises(ValueError, match="at most 1 request per second"):
        Geocoder("nominatim", min_interval_s=0.2)
    own_server = Geocoder("nominatim", base_url="http://127.0.0.1:9", min_interval_s=0)
    assert own_server.min_interval_s == 0


def test_unreachable_server_stops_after_consecutive_failures(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    coder = Geocoder("nominatim", base_url=f"http://127.0.0.1:{port}", min_interval_s=0,
                     timeout_s=0.5, max_tries=2, backoff_s=0.001)
    with pytest.raises(GeocodeStopError) as caught:
        geocode_table(table("a", "b", "c", "d"), coder, max_consecutive_errors=2)
    stop = caught.value
    assert stop.reason == "unreachable"
    assert stop.result is not None and stop.result.counts["not_attempted"] == 2
    assert [u.reason for u in stop.result.unresolved] == ["error", "error"]


# --------------------------------------------------------------- keys, quota, refusals


@pytest.mark.parametrize(("provider", "variable"), [("amap", "AMAP_KEY"),
                                                    ("tianditu", "TIANDITU_KEY")])
def test_missing_key_is_an_error_before_any_call(provider, variable, tmp_path):
    with pytest.raises(ValueError, match=f"set {variable}"):
        make_geocoder(provider, environ={variable: "  "}, cache_path=tmp_path / "c.sqlite")
    assert not (tmp_path / "c.sqlite").exists()


def test_nominatim_needs_no_key(tmp_path):
    coder = make_geocoder("nominatim", environ={}, cache_path=tmp_path / "c.sqlite")
    assert coder.provider == "nominatim"
    coder.close()


@pytest.mark.parametrize(("provider", "options", "reason", "hint"), [
    ("amap", {"key": fs.BAD_KEY}, "bad key", "AMAP_KEY"),
    ("tianditu", {"key": fs.BAD_KEY}, "bad key", "TIANDITU_KEY"),
    ("nominatim", {"user_agent": "Python-urllib/3.11"}, "bad key", "User-Agent"),
])
def test_refused_key_stops_and_keeps_the_output_untouched(provider, options, reason, hint,
                                                          fake, tmp_path):
    src = write_csv(tmp_path / "in.csv", [("A", "x", fs.JIADING_GUANGJISUO),
                                          ("B", "y", fs.SONGJIANG_POI)])
    with pytest.raises(GeocodeStopError) as caught:
        geocode_csv(src, tmp_path / "out.csv", make(provider, fake, tmp_path, **options))
    stop = caught.value
    assert stop.reason == reason and hint in str(stop)
    assert fake.count() == 1  # stopped at the first refusal, not once per row
    assert not (tmp_path / "out.csv").exists()
    assert stop.partial_path == tmp_path / "out.partial.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cache.sqlite", "in.csv", "out.partial.csv"]  # no temp file left behind


@pytest.mark.parametrize(("provider", "reason"), [("amap", "quota"), ("tianditu", "quota"),
                                                  ("nominatim", "quota")])
def test_quota_mid_run_writes_the_rows_done_and_a_rerun_resumes(provider, reason, fake,
                                                                 tmp_path):
    rows = [("A", "x", fs.JIADING_GUANGJISUO), ("B", "y", fs.SONGJIANG_POI),
            ("C", "z", fs.QUOTA), ("D", "w", fs.QINGPU_TOWN)]
    src = write_csv(tmp_path / "in.csv", rows)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    with pytest.raises(GeocodeStopError) as caught:
        geocode_csv(src, tmp_path / "out.csv", make(provider, fake, tmp_path))
    stop = caught.value
    assert stop.reason == reason
    assert stop.result.counts["not_attempted"] == 2
    partial = read_out(partial_output_path(tmp_path / "out.csv"))
    assert partial[0] == ["id", "name_zh", "address", *COORD_COLUMNS]
    assert [r[3] != "" for r in partial[1:]] == [True, True, False, False]
    assert not (tmp_path / "out.csv").exists()
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    # Next day: the same list without the quota trigger costs only the rows not yet asked.
    before = fake.count()
    src2 = write_csv(tmp_path / "in2.csv", [rows[0], rows[1], rows[3]])
    result = geocode_csv(src2, tmp_path / "out.csv", make(provider, fake, tmp_path))
    assert fake.count() - before == 1 and result.counts["filled"] == 3


def test_ctrl_c_keeps_the_rows_done(fake, tmp_path, monkeypatch):
    src = write_csv(tmp_path / "in.csv", [("A", "x", fs.JIADING_GUANGJISUO),
                                          ("B", "y", fs.SONGJIANG_POI)])
    coder = make("amap", fake, tmp_path)
    real_lookup = coder.lookup

    def lookup(address, city=""):
        if address == fs.SONGJIANG_POI:
            raise KeyboardInterrupt
        return real_lookup(address, city)

    monkeypatch.setattr(coder, "lookup", lookup)
    with pytest.raises(GeocodeStopError) as caught:
        geocode_csv(src, tmp_path / "out.csv", coder)
    assert caught.value.reason == "interrupted"
    partial = read_out(caught.value.partial_path)
    assert [r[3] for r in partial[1:]] == ["121.245000", ""]


def test_amap_rate_limit_code_stops_with_advice(fake, tmp_path):
    with pytest.raises(GeocodeStopError, match="--min-interval-s") as caught:
        geocode_table(table(fs.RATE), make("amap", fake, tmp_path))
    assert caught.value.reason == "rate limited"


# ------------------------------------------------------------------------------- files


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_in_and_utf8_bom_out_input_unchanged(encoding, fake, tmp_path):
    src = write_csv(tmp_path / "in.csv", [("A", "上海光机所", fs.JIADING_GUANGJISUO),
                                          ("B", "查不到", fs.NO_MATCH)], encoding=encoding)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    result = geocode_csv(src, tmp_path / "out.csv", make("amap", fake, tmp_path))
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    rows = read_out(tmp_path / "out.csv")
    assert rows[0] == ["id", "name_zh", "address", "lon", "lat", "coord_source",
                       "coord_precision_m"]
    assert rows[1] == ["A", "上海光机所", fs.JIADING_GUANGJISUO, "121.245000", "31.389000",
                       f"geocode:amap level=门牌号 {today()}", "50"]
    assert rows[2] == ["B", "查不到", fs.NO_MATCH, "", "", "", ""]
    assert [(u.row, u.reason) for u in result.unresolved] == [(2, "no match")]


def test_existing_columns_keep_their_place_and_text(fake, tmp_path):
    src = write_csv(tmp_path / "in.csv",
                    [("A", "121.2", "31.3", fs.JIADING_GUANGJISUO, "keep"),
                     ("B", "", "", fs.SONGJIANG_POI, "")],
                    header=("id", "lon", "lat", "address", "coord_source"))
    geocode_csv(src, tmp_path / "out.csv", make("amap", fake, tmp_path))
    rows = read_out(tmp_path / "out.csv")
    assert rows[0] == ["id", "lon", "lat", "address", "coord_source", "coord_precision_m"]
    assert rows[1] == ["A", "121.2", "31.3", fs.JIADING_GUANGJISUO, "keep", ""]
    assert rows[2][:3] == ["B", "121.218000", "31.053000"]


def test_header_only_file_gives_an_empty_table_with_the_new_columns(fake, tmp_path):
    src = write_csv(tmp_path / "in.csv", [])
    result = geocode_csv(src, tmp_path / "out.csv", make("amap", fake, tmp_path))
    assert read_out(tmp_path / "out.csv") == [["id", "name_zh", "address", *COORD_COLUMNS]]
    assert result.counts["rows"] == 0 and fake.count() == 0


def test_output_may_not_overwrite_the_input(fake, tmp_path):
    src = write_csv(tmp_path / "in.csv", [("A", "x", fs.JIADING_GUANGJISUO)])
    with pytest.raises(ValueError, match="never modified"):
        geocode_csv(src, src, make("amap", fake, tmp_path))
    assert fake.count() == 0


@pytest.mark.parametrize(("content", "row", "field", "message"), [
    (b"", None, None, "file is empty"),
    (b"id,address\r\nA,x,extra\r\nB,y\r\nC\r\n", 1, None, "row has 3 cells"),
    (b"id,addr\r\nA,x\r\n", None, "address", "no address column 'address'"),
    (b"id,address\r\n\xff\xfe\xfa,x\r\n", None, None, "cannot decode"),
])
def test_bad_input_files_name_file_row_and_field(content, row, field, message, fake, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_bytes(content)
    with pytest.raises(DataError) as caught:
        geocode_csv(src, tmp_path / "out.csv", make("amap", fake, tmp_path))
    problem = caught.value.problems[0]
    assert problem.file == str(src) and problem.row == row and problem.field == field
    assert message in str(caught.value)
    assert not (tmp_path / "out.csv").exists()


def test_ragged_rows_are_all_listed_at_once(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_bytes(b"id,address\r\nA,x,extra\r\nB,y\r\nC\r\n,\r\n")
    with pytest.raises(DataError) as caught:
        read_address_csv(src)
    assert [p.row for p in caught.value.problems] == [1, 3]


# --------------------------------------------------------------------------------- CLI


def run_cli(argv, capsys):
    code = newtown(["geocode", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_progress_summary_and_unresolved_list(fake, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AMAP_KEY", "test-key")
    src = fs.write_demo_csv(tmp_path / "demo.csv")
    code, out, err = run_cli([src, "-o", tmp_path / "out.csv", "--provider", "amap",
                              "--base-url", fake.base_url, "--cache", tmp_path / "c.sqlite",
                              "--min-interval-s", "0", "--timeout-s", "0.3", "--backoff-s",
                              "0.001", "--progress-every", "5", "--report",
                              tmp_path / "unresolved.csv"], capsys)
    assert code == 0
    lines = err.splitlines()
    progress = [line for line in lines if line.startswith("geocode amap:")]
    assert [line.split()[2] for line in progress] == ["5/12", "10/12", "12/12"]
    assert "filled 6 | cache hits 0 | failures 5" in progress[-1]
    assert "  filled                 6" in lines and "  kept                   1  " \
        "(already had lon/lat; not geocoded)" in lines
    assert any(line.startswith("  row 6 ") and "ambiguous" in line for line in lines)
    assert any(line.startswith("  row 8 ") and "昆山市花桥镇" in line
               and "outside Shanghai" in line for line in lines)
    assert "wrote" in out
    report = read_out(tmp_path / "unresolved.csv")
    assert report[0] == ["row", "address", "reason", "detail"]
    assert [r[0] for r in report[1:]] == ["5", "6", "7", "8", "9"]
    # again: everything from the cache
    code, _, err = run_cli([src, "-o", tmp_path / "out2.csv", "--provider", "amap",
                            "--base-url", fake.base_url, "--cache", tmp_path / "c.sqlite"],
                           capsys)
    assert code == 0 and "HTTP requests 0, cache hits 11" in err


def test_cli_stopped_run_exits_3_and_says_where_the_rows_are(fake, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.setenv("AMAP_KEY", "test-key")
    src = write_csv(tmp_path / "in.csv", [("A", "x", fs.JIADING_GUANGJISUO),
                                          ("B", "y", fs.QUOTA)])
    code, out, err = run_cli([src, "-o", tmp_path / "out.csv", "--provider", "amap",
                              "--base-url", fake.base_url, "--cache", tmp_path / "c.sqlite",
                              "--min-interval-s", "0"], capsys)
    assert code == cli_geocode.EXIT_STOPPED
    assert "DAILY_QUERY_OVER_LIMIT" in err and "out.partial.csv" in err
    assert "not attempted          1" in err
    assert out == "" and not (tmp_path / "out.csv").exists()


def test_cli_missing_key_exits_2_without_a_call(fake, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    src = write_csv(tmp_path / "in.csv", [("A", "x", fs.JIADING_GUANGJISUO)])
    code, _, err = run_cli([src, "-o", tmp_path / "out.csv", "--provider", "tianditu",
                            "--base-url", fake.base_url, "--cache", tmp_path / "c.sqlite"],
                           capsys)
    assert code == 2 and "set TIANDITU_KEY" in err and fake.count() == 0


def test_add_geocode_command_plugs_into_the_newtown_parser(tmp_path):
    parser = argparse.ArgumentParser(prog="newtown")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_geocode.add_geocode_command(sub)
    args = parser.parse_args(["geocode", "in.csv", "-o", "out.csv", "--provider", "nominatim"])
    assert (args.func, args.address_column, args.city, args.base_url, args.cache) == (
        cli_geocode.cmd_geocode, "address", "上海市", None, None)


def test_progress_line_rewrites_itself_on_a_terminal():
    from geo.geocode import GeocodeProgress

    stream = io.StringIO()
    line = cli_geocode.ProgressLine(stream, label="amap", every=10, is_tty=True)
    line(GeocodeProgress(1, 2, 1, 0, 0, 1))
    line(GeocodeProgress(2, 2, 1, 1, 1, 1))
    line.close()
    text = stream.getvalue()
    assert text.startswith("\rgeocode amap: 1/2 rows (50%)") and text.endswith("\n")
    assert "\rgeocode amap: 2/2 rows (100%) | filled 1 | cache hits 1 | failures 1" in text


def test_partial_output_path():
    assert partial_output_path(Path("a/out.csv")) == Path("a/out.partial.csv")
    assert partial_output_path(Path("out")) == Path("out.partial.csv")
