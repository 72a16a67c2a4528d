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
from geo.atlas import counts_by_town_and_layer, distinct_sites, membership_counts
from geo.boundaries import town_edges
from geo.placement import analysable

__all__ = [
    "MEMBERSHIP_NOTE",
    "add_info_command",
    "cmd_info",
    "format_membership",
    "format_table",
]


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
    members = membership_counts(selected)
    undated = int(flt.undated_mask(atlas.facilities).sum())
    lang = args.lang
    if args.json:
        edges = town_edges(atlas.towns)
        print_json({
            "filter": flt.to_params(),
            "total": len(selected),
            "membership": {k: int(members[k].sum()) for k in catalog.MEMBERSHIPS},
            "distinct_entities": len(distinct_sites(selected)),
            "distinct_sites": len(distinct_sites(analysable(selected)[0])),
            "undated_not_selected": undated,
            "counts_note": MEMBERSHIP_NOTE["en"],
            "towns": {
                town: {
                    "name_zh": catalog.TOWNS[town].zh,
                    "name_en": catalog.TOWNS[town].en,
                    "total": int(table["total"].loc[town]),
                    "membership": {k: int(members[k].loc[town]) for k in catalog.MEMBERSHIPS},
                    "layers": {layer: int(table[layer].loc[town])
                               for layer in catalog.INDUSTRY_LAYERS if table[layer].loc[town]},
                    # which source each part of the (approximate) boundary follows
                    "boundary_edges": edges.get(town, []),
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
    print(format_membership(members, lang=lang))
    entities = len(distinct_sites(selected))
    sites = len(distinct_sites(analysable(selected)[0]))
    print(f"不重复实体：{entities}（{len(selected)} 个设施；嵌套在所选上级设施中的只计一次，"
          "含占位点）" if lang == "zh" else
          f"distinct entities: {entities} (of {len(selected)} facilities; one nested under a "
          "selected parent counts once; placeholders included)")
    print(f"不重复地点：{sites}（不含占位点；嵌套的只计一次）" if lang == "zh" else
          f"distinct sites: {sites} (placeholders excluded; nested counted once)")
    if undated:
        print(("未注明年份、未计入：" if lang == "zh" else "undated, not selected: ")
              + str(undated))
    return 0


#: What a town count counts, said once for every face of the CLI.
MEMBERSHIP_NOTE = {
    "zh": "“边界内”指点位落在新城（近似）边界内；“关联”指来源将其归入该新城但点位在边界外；"
          "“占位点”只知所在新城或区，不是具体地点，不参与空间分析。",
    "en": "'inside' = the point lies within the town's (approximate) boundary; 'associated' = "
          "a source links it to the town but the point lies outside; 'placeholder' = only the "
          "town or district is known, not a site (left out of spatial analyses).",
}


def format_membership(members: pd.DataFrame, *, lang: str) -> str:
    """Towns as rows: inside / associated / placeholder / total."""
    kinds = [*catalog.MEMBERSHIPS, "total"]
    heads = [catalog.MEMBERSHIPS[k].label(lang) for k in catalog.MEMBERSHIPS]
    heads.append("合计" if lang == "zh" else "total")
    names = [catalog.TOWNS[k].label(lang) for k in members.index]
    first = max(display_width(n) for n in names) + 2
    widths = [max(display_width(h), 5) + 2 for h in heads]
    lines = [pad("", first) + "".join(pad(h, w, right=True)
                                      for h, w in zip(heads, widths, strict=True))]
    for town, name in zip(members.index, names, strict=True):
        cells = [str(int(members[k].loc[town])) for k in kinds]
        lines.append(pad(name, first) + "".join(pad(c, w, right=True)
                                                for c, w in zip(cells, widths, strict=True)))
    lines.append(MEMBERSHIP_NOTE["zh" if lang == "zh" else "en"])
    return "\n".join(lines)


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
