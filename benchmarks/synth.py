"""Seeded synthetic facilities inside the five new towns, for benchmarks only (never real data).

Usage: .venv/bin/python benchmarks/synth.py N -o DIR [--seed 0]

writes ``DIR/facilities.csv`` (N rows) next to a copy of the bundled ``boundaries/`` so that
``newtown serve --data DIR`` and ``load_atlas(DIR)`` work on it. Every row says what it is:
ids ``SYN-0000001``..., ``coord_source`` "synthetic (benchmark only, not real)", ``source``
"synthetic". The folder must lie outside the bundled ``data/`` (a temp or benchmark folder).

The points are drawn in EPSG:4549 metres: 70% in Gaussian "parks" (one park per ~200
facilities, sd 150-800 m, centres uniform in the town), 30% uniform over the town; each
town gets a share proportional to its area. A point is kept only if, after rounding to 6
decimals in WGS84, it lies inside its town, inside the town's district (and no other) and
inside the city outline, so the file passes ``newtown check``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo import catalog
from geo._io import atomic_write
from geo.atlas import Atlas, load_atlas
from geo.facilities import COLUMNS
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS, bundled_data_dir

COORD_SOURCE = "synthetic (benchmark only, not real)"
SOURCE = "synthetic"
CLUMPED_SHARE = 0.7
FACILITIES_PER_PARK = 200
_DECIMALS = 6
#: Industries each town is known for; 60% of a town's industry tags come from this list.
_SPECIALTIES = {
    "jiading": ("auto", "auto_icv", "auto_nev", "ic", "electronics", "laser"),
    "qingpu": ("digital", "ai", "fashion", "electronics"),
    "songjiang": ("ic", "ai", "equipment", "materials", "robotics"),
    "fengxian": ("fashion", "biomed", "life_health", "materials"),
    "nanhui": ("ic", "biomed", "aerospace", "marine", "ai", "future_energy", "future_space"),
}
_COMBOS_PER_TOWN = 300

_boundary_atlas: Atlas | None = None


def _bundled_atlas() -> Atlas:
    """The bundled boundaries (loaded once): the synthetic points must pass their checks."""
    global _boundary_atlas
    if _boundary_atlas is None:
        _boundary_atlas = load_atlas(bundled_data_dir())
    return _boundary_atlas


def _regions(atlas: Atlas) -> dict[str, shapely.Geometry]:
    """Per town (WGS84): town ∩ its district ∩ city, minus every other district."""
    city = shapely.union_all(atlas.city.geometry.to_numpy())
    by_name = dict(zip(atlas.districts["name_zh"], atlas.districts.geometry, strict=True))
    regions = {}
    for key, geom in zip(atlas.towns["key"], atlas.towns.geometry, strict=True):
        home = catalog.TOWNS[key].district
        others = shapely.union_all([g for name, g in by_name.items() if name != home])
        region = shapely.difference(geom.intersection(by_name[home]).intersection(city), others)
        shapely.prepare(region)
        regions[key] = region
    return regions


def _town_points(
    region_wgs: shapely.Geometry, n: int, rng: np.random.Generator,
    to_metric: Transformer, to_wgs: Transformer,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rounded WGS84 points inside ``region_wgs``: parks plus uniform, by rejection."""
    x0, y0, x1, y1 = region_wgs.bounds
    mx, my = to_metric.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
    minx, maxx, miny, maxy = min(mx), max(mx), min(my), max(my)

    def keep(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = to_wgs.transform(x, y)
        lon, lat = np.round(lon, _DECIMALS), np.round(lat, _DECIMALS)
        inside = shapely.contains_xy(region_wgs, lon, lat)
        return lon[inside], lat[inside]

    def uniform(count: int) -> tuple[np.ndarray, np.ndarray]:
        lons, lats, got = [np.empty(0)], [np.empty(0)], 0
        while got < count:
            m = max(64, int((count - got) * 2.5))
            lon, lat = keep(rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m))
            lons.append(lon)
            lats.append(lat)
            got += len(lon)
        return np.concatenate(lons)[:count], np.concatenate(lats)[:count]

    n_clumped = round(n * CLUMPED_SHARE)
    n_parks = max(1, n_clumped // FACILITIES_PER_PARK)
    centre_lon, centre_lat = uniform(n_parks)
    cx, cy = to_metric.transform(centre_lon, centre_lat)
    sd = rng.uniform(150.0, 800.0, n_parks)
    lons, lats, got = [np.empty(0)], [np.empty(0)], 0
    while got < n_clumped:
        m = max(64, int((n_clumped - got) * 1.3))
        park = rng.integers(0, n_parks, m)
        lon, lat = keep(cx[park] + rng.normal(0.0, sd[park]),
                        cy[park] + rng.normal(0.0, sd[park]))
        lons.append(lon)
        lats.append(lat)
        got += len(lon)
    ulon, ulat = uniform(n - n_clumped)
    lon = np.concatenate(lons)[:n_clumped]
    lat = np.concatenate(lats)[:n_clumped]
    return np.concatenate([lon, ulon]), np.concatenate([lat, ulat])


def _industry_combos(town: str, rng: np.random.Generator) -> np.ndarray:
    """A pool of ';'-joined industry keys for one town (1-3 keys, specialties favoured)."""
    every = list(catalog.INDUSTRIES)
    special = list(_SPECIALTIES[town])
    combos = []
    for _ in range(_COMBOS_PER_TOWN):
        k = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
        keys: list[str] = []
        while len(keys) < k:
            pool = special if rng.random() < 0.6 else every
            key = str(pool[rng.integers(len(pool))])
            if key not in keys:
                keys.append(key)
        combos.append(";".join(keys))
    return np.array(combos, dtype=object)


def make_facilities(n: int, seed: int) -> pd.DataFrame:
    """``n`` synthetic facilities (seeded) inside the five towns, columns as ``facilities.csv``.

    ``lon``/``lat`` are WGS84 degrees rounded to 6 decimals, ``coord_precision_m`` an int,
    ``year`` a nullable Int64 (blank for ~40%); every other column is text with catalog keys.
    """
    if n < 0:
        raise ValueError(f"n must be a non-negative number of facilities, got {n}")
    rng = np.random.default_rng(seed)
    atlas = _bundled_atlas()
    regions = _regions(atlas)
    to_metric = Transformer.from_crs(GEOGRAPHIC_CRS, METRIC_CRS, always_xy=True)
    to_wgs = Transformer.from_crs(METRIC_CRS, GEOGRAPHIC_CRS, always_xy=True)
    towns = list(regions)
    area = gpd.GeoSeries(list(regions.values()), crs=GEOGRAPHIC_CRS).to_crs(METRIC_CRS).area
    area = area.to_numpy()
    per_town = rng.multinomial(n, area / area.sum()) if n else np.zeros(len(towns), dtype=int)

    parts = []
    for town, count in zip(towns, per_town, strict=True):
        if count == 0:
            continue
        lon, lat = _town_points(regions[town], int(count), rng, to_metric, to_wgs)
        combos = _industry_combos(town, rng)
        weights = 1.0 / np.arange(1, len(combos) + 1)  # a few common combinations, a long tail
        parts.append(pd.DataFrame({
            "town": town,
            "industries": combos[rng.choice(len(combos), count, p=weights / weights.sum())],
            "lon": lon, "lat": lat,
        }))
    if parts:
        df = pd.concat(parts, ignore_index=True)
        # Towns interleave as in a real export (not one block per town).
        df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    else:
        df = pd.DataFrame({"town": pd.Series([], dtype=object),
                           "industries": pd.Series([], dtype=object),
                           "lon": pd.Series([], dtype=float), "lat": pd.Series([], dtype=float)})

    categories = list(catalog.CATEGORIES)
    category = np.array(categories, dtype=object)[rng.integers(0, len(categories), n)]
    number = range(1, n + 1)
    # Plain lists: iterating a pandas string column element by element is slow.
    town_zh = df["town"].map({k: t.zh for k, t in catalog.TOWNS.items()}).tolist()
    district = df["town"].map({k: t.district for k, t in catalog.TOWNS.items()}).tolist()
    cat_zh = pd.Series(category).map({k: t.zh for k, t in catalog.CATEGORIES.items()}).tolist()
    cat_en = pd.Series(category).map({k: t.en for k, t in catalog.CATEGORIES.items()}).tolist()
    levels = np.array(list(catalog.LEVELS), dtype=object)
    statuses = np.array(list(catalog.STATUSES), dtype=object)
    year = pd.array(rng.integers(1990, 2026, n), dtype="Int64")
    year[rng.random(n) < 0.4] = pd.NA
    out = pd.DataFrame({
        "id": [f"SYN-{i:07d}" for i in number],
        "name_zh": [f"{t[:2]}合成{c}{i}" for t, c, i in zip(town_zh, cat_zh, number,
                                                           strict=True)],
        "name_en": [f"Synthetic {c} {i}" for c, i in zip(cat_en, number, strict=True)],
        "category": category,
        "industries": df["industries"].to_numpy(),
        "town": df["town"].to_numpy(),
        "district": district,
        "address": [f"{d}{t}合成路{i % 997 + 1}号（合成数据）"
                    for d, t, i in zip(district, town_zh, number, strict=True)],
        "lon": df["lon"].to_numpy(dtype=float),
        "lat": df["lat"].to_numpy(dtype=float),
        "coord_source": COORD_SOURCE,
        "coord_precision_m": rng.choice([10, 50, 100, 300, 1000], n),
        "placement": "site",
        "parent_id": "",
        "level": levels[rng.choice(len(levels), n, p=[0.1, 0.25, 0.3, 0.3, 0.05])],
        "status": statuses[rng.choice(len(statuses), n, p=[0.7, 0.15, 0.1, 0.04, 0.01])],
        "year": year,
        "year_event": np.where(year.isna(), "", "founded"),
        "year_source": np.where(year.isna(), "", SOURCE),
        "source": SOURCE,
    }, columns=list(COLUMNS))
    return out


def _refuse_bundled(folder: Path) -> None:
    target = folder.resolve()
    protected = {bundled_data_dir().resolve(), (Path(__file__).resolve().parents[1] / "data")}
    for root in protected:
        if target == root or root in target.parents:
            raise ValueError(f"refusing to write synthetic data into {target}: it is inside "
                             f"the bundled data folder {root}; use a temp or benchmark folder")


def write_data_dir(n: int, seed: int, folder: str | Path) -> Path:
    """Write a data folder laid out like ``data/`` with ``n`` synthetic facilities; return it.

    Copies the bundled ``boundaries/`` and writes ``facilities.csv`` (atomically) and a
    ``SYNTHETIC.txt`` note. Refuses any folder inside the bundled ``data/``.
    """
    folder = Path(folder)
    _refuse_bundled(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundled_data_dir() / "boundaries", folder / "boundaries", dirs_exist_ok=True)
    table = make_facilities(n, seed)
    with atomic_write(folder / "facilities.csv", "w", encoding="utf-8", newline="") as handle:
        text_columns = {c: object for c in table.columns if table[c].dtype == "str"}
        # object columns write ~2x faster than pandas' python-backed str columns
        table.astype(text_columns).to_csv(handle, index=False, lineterminator="\n",
                                          float_format=f"%.{_DECIMALS}f")
    with atomic_write(folder / "SYNTHETIC.txt", "w", encoding="utf-8") as handle:
        handle.write(f"SYNTHETIC benchmark data, not real: {n} facilities, seed {seed}, "
                     "written by benchmarks/synth.py. Boundaries are copies of the bundled "
                     "ones. Do not publish or use for planning.\n")
    return folder


def cached_data_dir(n: int, seed: int, workdir: str | Path) -> Path:
    """``workdir/synthetic_n{n}_seed{seed}``, written once and reused while it is complete."""
    folder = Path(workdir) / f"synthetic_n{n}_seed{seed}"
    note = folder / "SYNTHETIC.txt"
    if not (note.is_file() and f" {n} facilities, seed {seed}," in note.read_text("utf-8")):
        write_data_dir(n, seed, folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=lambda s: int(float(s)), help="number of facilities (1e5 ok)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="folder to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = write_data_dir(args.n, args.seed, args.output)
    print(f"wrote {args.n} synthetic facilities to {folder / 'facilities.csv'}")


if __name__ == "__main__":
    main()
