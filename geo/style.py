"""One map style for every drawing: layer colours, path options and wording for the dashboard,
the standalone HTML map and the print map.

Everything here is plain data (hex colours, Leaflet path options, ``(zh, en)`` names): the
HTML map (:mod:`geo.webmap`) and the print map (:mod:`geo.printmap`) read it directly, and the
dashboard hands :func:`browser_style` to its JavaScript as one JSON document, so no drawing
keeps a copy of its own. Facility and town colours live with their terms in :mod:`geo.catalog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from geo import catalog

__all__ = [
    "AGG_COLOURS",
    "ANALYSIS_STYLES",
    "CLUSTER_COLOURS",
    "DEFAULT_COLOUR",
    "DENSITY_COLOURS",
    "FACILITY_MARKER",
    "HOTSPOT_COLOURS",
    "LAYER_LABELS",
    "LAYER_STYLES",
    "PALETTE",
    "SIMPLIFY_M",
    "SIMPLIFY_OTHER_M",
    "browser_style",
]

#: The interface's own colours (header, accents, notices), shared by the dashboard's CSS and
#: the print map's text.
PALETTE: Final[Mapping[str, str]] = MappingProxyType({
    "ink": "#1f2933",
    "muted": "#5f6b7a",
    "primary": "#12355b",
    "accent": "#d35400",
    "warn": "#8a4b00",
    "surface": "#ffffff",
    "canvas": "#f4f3ef",
    "line": "#d9dde3",
})

#: Marker colour for a facility without a known industry layer.
DEFAULT_COLOUR: Final = "#666666"

#: Display simplification per layer, metres, applied in EPSG:4549 (never in degrees).
SIMPLIFY_M: Final[Mapping[str, float]] = MappingProxyType(
    {"city": 40.0, "districts": 40.0, "towns": 10.0, "corridors": 30.0,
     "corridor_lines": 20.0, "zones": 10.0})
#: Simplification of any other (e.g. uploaded or analysis) polygon layer, metres.
SIMPLIFY_OTHER_M: Final = 10.0

#: Layer names in layer controls and legends: (zh, en).
LAYER_LABELS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "facilities": ("创新设施", "Facilities"),
        "towns": ("新城边界（近似）", "New towns (approximate)"),
        "districts": ("区界", "Districts"),
        "city": ("上海市界", "Shanghai boundary"),
        "corridors": ("G60科创走廊（示意）", "G60 corridor (schematic)"),
        "corridor_lines": ("G60沪昆高速（示意）", "G60 expressway (schematic)"),
        "zones": ("南汇未来产业先导区（示意）", "Nanhui future-industry zone (schematic)"),
        "parks": ("产业园区（多为近似点位）", "Industrial parks (mostly approximate points)"),
        "within": ("绘制区域（筛选范围）", "Drawn area (filter)"),
    }
)

#: Leaflet path options per boundary layer. Towns take their outline colour from
#: geo.catalog.TOWNS (the ``color`` here is the fallback).
LAYER_STYLES: Final[Mapping[str, Mapping[str, object]]] = MappingProxyType(
    {
        "districts": {"color": "#8a8a8a", "weight": 1, "fillOpacity": 0.03, "dashArray": "3 3"},
        "towns": {"color": "#c0392b", "weight": 2.5, "fillOpacity": 0.08},
        "corridors": {"color": "#1f77b4", "weight": 1, "fillColor": "#1f77b4",
                      "fillOpacity": 0.08, "dashArray": "6 4"},
        "corridor_lines": {"color": "#1f4e79", "weight": 3, "opacity": 0.8},
        "zones": {"color": "#e67e22", "weight": 2, "fillColor": "#e67e22", "fillOpacity": 0.15,
                  "dashArray": "4 3"},
        "city": {"color": "#555555", "weight": 1.5, "fill": False},
        "within": {"color": "#d35400", "weight": 2, "dashArray": "8 4", "fill": False},
        "other": {"color": "#555555", "weight": 1.5, "fillOpacity": 0.1},
    }
)

#: Circle-marker options of a facility (its fill is the colour of its first industry layer).
FACILITY_MARKER: Final[Mapping[str, object]] = MappingProxyType(
    {"radius": 7, "weight": 1.5, "color": "#ffffff", "fillOpacity": 0.95})

#: Leaflet options of the dashboard's per-user layers (uploads, analysis results, the clicked
#: facility's precision circle).
ANALYSIS_STYLES: Final[Mapping[str, Mapping[str, object]]] = MappingProxyType(
    {
        "uploaded_point": {"radius": 6, "weight": 2.5, "color": "#000000",
                           "fillColor": "#ffffff", "fillOpacity": 1},
        "uploaded_boundary": {"color": "#6a1b9a", "weight": 2, "fillOpacity": 0.05,
                              "dashArray": "2 4"},
        "covered": {"color": "#2ca25f", "weight": 0.5, "fillColor": "#2ca25f",
                    "fillOpacity": 0.25},
        "gap": {"color": "#de2d26", "weight": 1, "fillColor": "#de2d26", "fillOpacity": 0.25},
        "site": {"radius": 9, "weight": 3, "color": "#000000", "fillColor": "#ffeb3b",
                 "fillOpacity": 1},
        "result": {"color": "#888888", "weight": 0.5, "fillOpacity": 0.45},
        "hull": {"color": "#333333", "weight": 2.5, "fillOpacity": 0.12},
        "aggregate": {"color": "#08306b", "weight": 0.5, "fillOpacity": 0.75},
        "precision": {"color": "#12355b", "weight": 1.5, "dashArray": "4 4",
                      "fillOpacity": 0.06},
    }
)

#: Cluster hull colours, by cluster number (cycled).
CLUSTER_COLOURS: Final = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                          "#a6761d", "#1f78b4", "#b15928", "#6a3d9a")
#: Kernel-density bands, low to high.
DENSITY_COLOURS: Final = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: Getis-Ord Gi* classes.
HOTSPOT_COLOURS: Final[Mapping[str, str]] = MappingProxyType(
    {"hot_99": "#b2182b", "hot_95": "#ef8a62", "hot_90": "#fddbc7",
     "cold_90": "#d1e5f0", "cold_95": "#67a9cf", "cold_99": "#2166ac"})
#: Grid-count cells when too many facilities are selected, low to high.
AGG_COLOURS: Final = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")


def browser_style() -> dict[str, Any]:
    """The whole style as one JSON-ready document for a browser's drawing code.

    Returns
    -------
    dict
        ``layers`` (boundary path options), ``marker`` (facility circle marker),
        ``analysis`` (per-user and result layers), ``palette``, ``defaultColour`` and
        ``towns`` (town key -> outline colour).
    """
    return {
        "layers": {k: dict(v) for k, v in LAYER_STYLES.items()},
        "marker": dict(FACILITY_MARKER),
        "analysis": {k: dict(v) for k, v in ANALYSIS_STYLES.items()},
        "palette": dict(PALETTE),
        "defaultColour": DEFAULT_COLOUR,
        "towns": {k: term.colour for k, term in catalog.TOWNS.items()},
    }
