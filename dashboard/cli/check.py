"""The `newtown check` subcommand: validate the data and report what it holds."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard.cli._common import add_data_option, load, report_errors
from geo import catalog
from geo.atlas import membership_counts, park_facility_mismatches
from geo.boundaries import town_edges

__all__ = ["add_check_command", "cmd_check"]


def add_check_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``check`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser("check",
                                                help="validate the data and report problems")
    add_data_option(p)
    p.set_defaults(func=cmd_check)
    return p


def cmd_check(args: argparse.Namespace) -> int:
    """Run ``newtown check``; 0 on success, 2 with a message on bad data."""
    return report_errors(_check, args)


def _check(args: argparse.Namespace) -> int:
    atlas = load(args)
    fac = atlas.facilities
    print(f"data: {getattr(args, 'data_label', atlas.data_dir)}")
    print(f"ok: {len(atlas.districts)} districts, {len(atlas.towns)} towns, "
          f"{len(atlas.corridors)} corridor(s), {len(atlas.zones)} zone(s), "
          f"{len(fac)} facilities: all valid")
    print("towns (area measured in EPSG:4549 vs official):")
    edges = town_edges(atlas.towns)
    for key, name, official, area, quality in zip(
        atlas.towns["key"], atlas.towns["name_zh"], atlas.towns["official_area_km2"],
        atlas.towns_m.geometry.area / 1e6, atlas.towns["boundary_quality"], strict=True,
    ):
        print(f"  {key:<10} {name}  {area:7.1f} km² (official {float(official):.1f}, "
              f"{(area / float(official) - 1):+.1%}), boundary {quality}")
        parts = edges.get(str(key), [])
        drawn = [p for p in parts if p["confidence"] != "not_drawn"]
        mix = ", ".join(f"{sum(p['confidence'] == c for p in drawn)} {c}"
                        for c in ("medium", "low"))
        print(f"             edges: {len(drawn)} drawn part(s) with a source ({mix})"
              + (f", {len(parts) - len(drawn)} published clause(s) not drawn"
                 if len(parts) > len(drawn) else "")
              if parts else "             edges: no per-edge provenance recorded")
    parks = atlas.parks
    if len(parks):
        kinds = parks["placement"].astype(str)
        linked = (parks["facility_id"].notna() & (parks["facility_id"].astype(str) != "")).sum() \
            if "facility_id" in parks.columns else 0
        print(f"parks: {len(parks)} features: {int((kinds == 'area').sum())} area, "
              f"{int(kinds.isin(catalog.PLACEHOLDER_PLACEMENTS).sum())} placeholder "
              "(precision at least the reach of their town or district), "
              f"{int(linked)} the same place as a facility row")
        for line in park_facility_mismatches(parks, fac):
            print(f"  note: {line}")
    mix = fac["placement"].value_counts()
    print("placement: " + ", ".join(f"{mix.get(k, 0)} {k}" for k in catalog.PLACEMENTS))
    counts = membership_counts(fac)
    print("facilities per town: inside the boundary / associated but outside / placeholder")
    for town in counts.index:
        inside, associated, placeholder = (int(counts[k].loc[town])
                                           for k in catalog.MEMBERSHIPS)
        print(f"  {town:<10} {inside:4d} inside {associated:4d} associated "
              f"{placeholder:4d} placeholder")
    outside = fac.loc[fac["membership"] == "associated"]
    print(f"associated but outside their town's boundary: {len(outside)} of {len(fac)} "
          "(kept: the source associates them with the town)")
    for fid, name, town, district in zip(outside["id"], outside["name_zh"], outside["town"],
                                         outside["district"], strict=True):
        print(f"  {fid}  {name}  (town {town}, in {district})")
    return 0
