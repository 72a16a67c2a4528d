"""The `newtown info` subcommand: facilities per town and industry layer."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from dashboard.cli._common import (
    add_data_option,
    add_filter_arguments,
    display_width,
    filter_from_args,
    load,
    pad,
    print_json,
    report_errors,
)
from geo import catalog
from geo.atlas import counts_by_town_and_layer

__all__ = ["add_info_command", "cmd_info", "format_table"]


def add_info_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``info`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "info", help="count facilities per town x industry layer")
    add_data_option(p)
    add_filter_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_info)
    return p


def cmd_info(args: argparse.Namespace) -> int:
    """Run ``newtown info``; 0 on success, 2 with a message on bad input."""
    return report_errors(_info, args)


def _info(args: argparse.Namespace) -> int:
    atlas = load(args)
    flt = filter_from_args(args)
    selected = flt.select(atlas.facilities)
    table = counts_by_town_and_layer(selected)
    lang = args.lang
    if args.json:
        print_json({
            "filter": flt.to_params(),
            "total": len(selected),
            "towns": {
                town: {
                    "name_zh": catalog.TOWNS[town].zh,
                    "name_en": catalog.TOWNS[town].en,
                    "total": int(table["total"].loc[town]),
                    "layers": {layer: int(table[layer].loc[town])
                               for layer in catalog.INDUSTRY_LAYERS if table[layer].loc[town]},
                }
                for town in table.index
            },
            "layers": {k: {"name_zh": catalog.INDUSTRIES[k].zh, "name_en": catalog.INDUSTRIES[k].en,
                           "colour": catalog.INDUSTRIES[k].colour}
                       for k in catalog.INDUSTRY_LAYERS},
        })
        return 0
    if not flt.is_empty():
        print(f"filter: {flt.to_query_string()}")
    print(format_table(table, lang=lang))
    return 0


def format_table(table: pd.DataFrame, *, lang: str) -> str:
    """Industry layers as rows, towns as columns (only layers with any facility)."""
    towns = list(table.index)
    heads = [catalog.TOWNS[k].label(lang).replace("新城", "").replace(" New Town", "")
             for k in towns] + [("合计" if lang == "zh" else "total")]
    layers = [c for c in catalog.INDUSTRY_LAYERS if table[c].sum() > 0]
    names = [catalog.INDUSTRIES[c].label(lang) for c in layers]
    first = max([display_width(n) for n in names] + [8]) + 2
    col = max(display_width(h) for h in heads) + 2
    lines = [pad("", first) + "".join(pad(h, col, right=True) for h in heads)]
    for layer, name in zip(layers, names, strict=True):
        cells = [str(int(table[layer].loc[k])) for k in towns]
        cells.append(str(int(table[layer].sum())))
        lines.append(pad(name, first) + "".join(pad(c, col, right=True) for c in cells))
    totals = [str(int(table["total"].loc[k])) for k in towns] + [str(int(table["total"].sum()))]
    label = "设施数" if lang == "zh" else "facilities"
    lines.append(pad(label, first) + "".join(pad(c, col, right=True) for c in totals))
    note = ("（一个设施可属多个产业图层，故各图层之和可大于设施数）" if lang == "zh"
            else "(a facility counts in each of its layers, so layers can add up to more "
                 "than the number of facilities)")
    lines.append(note)
    return "\n".join(lines)
