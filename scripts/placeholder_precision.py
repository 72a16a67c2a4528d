"""Set each placeholder's coord_precision_m to the reach of the area it stands for.

A town placeholder stands for its whole (approximate) town, a district placeholder for its
district: its honest precision is the distance from the point to the farthest point of that
area, measured in EPSG:4549 and rounded up to 100 m. Sites and areas are left as they are.
``newtown check`` refuses a placeholder whose precision is less than that reach.

Usage: python scripts/placeholder_precision.py [DATA_DIR]   (default: data/)
"""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

import pandas as pd
import shapely

from geo._io import atomic_write
from geo.atlas import placeholder_reach_m
from geo.boundaries import read_boundaries
from geo.catalog import PLACEHOLDER_PLACEMENTS
from geo.facilities import COLUMNS, validate_facilities
from geo.settings import DataLayout


def main(argv: list[str]) -> int:
    layout = DataLayout(Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "data")
    towns = read_boundaries(layout.towns, kind="towns")
    districts = read_boundaries(layout.districts, kind="districts")
    city = shapely.union_all(read_boundaries(layout.city, kind="city").geometry.to_numpy())
    text = layout.facilities.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    # A placeholder's precision is what this script computes: a blank or 0 stands in for it.
    table = pd.DataFrame(rows, dtype=object)
    unset = table["placement"].isin(PLACEHOLDER_PLACEMENTS) & (
        table["coord_precision_m"].str.strip().isin(["", "0"]))
    table.loc[unset, "coord_precision_m"] = "1"
    facilities = validate_facilities(table, file=str(layout.facilities), city=city,
                                     districts=districts)
    reach = placeholder_reach_m(facilities, towns, districts)
    changed = 0
    for row in rows:
        value = reach.get(row["id"])
        if value is None or math.isnan(value):
            continue
        wanted = str(int(math.ceil(value / 100.0) * 100))
        if row["coord_precision_m"] != wanted:
            print(f"{row['id']}: coord_precision_m {row['coord_precision_m']} -> {wanted}")
            row["coord_precision_m"] = wanted
            changed += 1
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_write(layout.facilities, "w") as fh:
        fh.write(out.getvalue())
    print(f"{changed} placeholder row(s) updated in {layout.facilities}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
