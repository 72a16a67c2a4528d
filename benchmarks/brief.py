"""The brief and the scorecard: one-town and five-town PDF times, the scorecard at 1e5 facilities.

Usage: .venv/bin/python benchmarks/brief.py [--n 1e5] [--repeats 3] [--workdir /tmp/newtown-bench]
                                            [--pages docs/brief]

Prints the median wall time (seconds) of:

* ``scorecard (bundled)``: :func:`geo.analysis.scorecard.run_scorecard` on the bundled data
  (cache cleared before each run);
* ``brief one town``: ``build_brief(..., towns="songjiang")`` (scorecard included, cache
  cleared), and the first (cold) call separately: it also loads WeasyPrint and the fonts;
* ``brief five towns``: ``build_brief(..., towns="all")`` (five towns plus the comparison page);
* ``scorecard 1e5``: the scorecard on ``--n`` seeded synthetic facilities
  (benchmarks/synth.py, written to ``--workdir``; never real data), atlas loaded beforehand;
* ``scorecard export``: ``newtown export --layers scorecard`` as GeoPackage and CSV (the
  table of that 1e5 result, its polygons and sidecar), cache cleared;
* ``growth chart``: the Scorecard tab's chart (the brief's SVG, base64 for the <img>) on the
  bundled data, with its size in bytes.

With ``--pages DIR`` it also renders Songjiang's brief pages to PNG there (pdftoppm, 110 dpi).
The machine is shared: the figures vary with the load (the script prints the load average).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import cached_data_dir

from geo.analysis.layers import analysis_metadata, run_for_layers
from geo.analysis.scorecard import ScorecardParams, clear_cache, run_scorecard
from geo.atlas import load_atlas
from geo.brief import build_brief, write_brief
from geo.export import export
from geo.query import Filter


def timed(func: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        clear_cache()
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=lambda s: int(float(s)), default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "newtown-bench")
    parser.add_argument("--pages", type=Path, default=None)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    atlas = load_atlas()
    flt = Filter()
    params = ScorecardParams()
    start = time.perf_counter()
    build_brief(atlas, flt, towns="songjiang", params=params)
    print(f"brief one town, cold (imports, fonts): {time.perf_counter() - start:6.2f} s")
    t, _ = timed(lambda: run_scorecard(atlas, flt, params), args.repeats)
    print(f"scorecard (bundled, {len(atlas.facilities)} facilities): {t:6.2f} s")
    t, brief = timed(lambda: build_brief(atlas, flt, towns="songjiang", params=params),
                     args.repeats)
    print(f"brief one town (songjiang):           {t:6.2f} s")
    t, _ = timed(lambda: build_brief(atlas, flt, towns="all", params=params), args.repeats)
    print(f"brief five towns + comparison:        {t:6.2f} s")

    folder = cached_data_dir(args.n, 0, args.workdir)
    big = load_atlas(folder)
    t, result = timed(lambda: run_scorecard(big, flt, params), args.repeats)
    print(f"scorecard {args.n:.0e} synthetic facilities:  {t:6.2f} s "
          f"(total {result.total['total']})")  # type: ignore[attr-defined]

    for fmt in ("gpkg", "csv"):
        out = args.workdir / f"scorecard.{fmt}"

        def write(fmt: str = fmt, out: Path = out) -> object:
            layers, results = run_for_layers(big, flt, ["scorecard"], {"scorecard": params})
            return export(layers, out, fmt=fmt,  # type: ignore[arg-type]
                          metadata={"analysis": analysis_metadata(results)})

        t, _ = timed(write, args.repeats)
        print(f"scorecard export {fmt:<4} ({args.n:.0e}):        {t:6.2f} s")

    from dashboard.callbacks.scorecard import growth_view

    scorecard = run_scorecard(atlas, flt, params)
    start = time.perf_counter()
    for _ in range(args.repeats):
        view = growth_view(scorecard, "zh", "songjiang")
    t = (time.perf_counter() - start) / args.repeats
    size = len(str(view.children[0].src))  # type: ignore[index,union-attr]
    print(f"growth chart (dashboard, bundled):    {t:6.2f} s ({size / 1024:.0f} KB data URI)")

    if args.pages is not None:
        args.pages.mkdir(parents=True, exist_ok=True)
        pdf = write_brief(args.workdir / "brief_songjiang.pdf", brief)  # type: ignore[arg-type]
        for old in args.pages.glob("songjiang-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-r", "110", "-png", str(pdf),
                        str(args.pages / "songjiang")], check=True)
        print("pages:", ", ".join(sorted(p.name for p in args.pages.glob("songjiang-*.png"))))


if __name__ == "__main__":
    main()
