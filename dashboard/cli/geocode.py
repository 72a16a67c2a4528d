"""The `newtown geocode` subcommand: fill lon/lat of a CSV from AMap, Tianditu or Nominatim."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from dashboard.cli._common import UsageError, display_width
from geo._errors import AtlasError, DataError
from geo.geocode import (
    PROVIDERS,
    GeocodeProgress,
    GeocodeResult,
    GeocodeStopError,
    default_cache_path,
    geocode_csv,
    make_geocoder,
    shanghai_outline,
    write_unresolved_csv,
)

#: Exit status of a run the provider stopped (bad key, quota, rate limit, unreachable).
EXIT_STOPPED = 3


def add_geocode_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``geocode`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "geocode",
        help="fill lon/lat of a CSV of addresses (AMap, Tianditu or Nominatim)",
        description=(
            "Fill lon/lat for the rows of IN.csv that lack them and write OUT.csv (UTF-8 with "
            "BOM) with coord_source and coord_precision_m. Rows with no match, an ambiguous "
            "match or a match outside Shanghai stay empty and are listed. Answers are cached "
            "(SQLite), so a re-run costs no calls. Keys: AMAP_KEY, TIANDITU_KEY. A refused key "
            f"or a used-up quota stops the run (exit {EXIT_STOPPED}) after writing the rows "
            "done so far to OUT.partial.csv."
        ),
    )
    p.add_argument("input", type=Path, metavar="IN.csv",
                   help="UTF-8, UTF-8 with BOM or GB18030; never modified")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.csv")
    p.add_argument("--provider", required=True, choices=PROVIDERS,
                   help="amap (answers GCJ-02, converted to WGS84), tianditu or nominatim")
    p.add_argument("--address-column", default="address", metavar="NAME",
                   help="column holding the address (default: address)")
    p.add_argument("--city", default="上海市",
                   help="city passed to providers that accept one (AMap); default 上海市")
    p.add_argument("--base-url", default=None, metavar="URL",
                   help="provider server root, e.g. a self-hosted Nominatim or a proxy")
    p.add_argument("--cache", type=Path, default=None, metavar="PATH",
                   help=f"SQLite cache of answers (default {default_cache_path()})")
    p.add_argument("--min-interval-s", type=float, default=None, metavar="S",
                   help="seconds between requests (defaults: amap 0.34, tianditu 0.2, "
                        "nominatim 1.0; the public Nominatim allows no less than 1.0)")
    p.add_argument("--timeout-s", type=float, default=10.0, metavar="S",
                   help="per-request timeout (default 10)")
    p.add_argument("--max-tries", type=int, default=4, metavar="N",
                   help="tries per address on HTTP 5xx, timeouts and connection errors "
                        "(default 4)")
    p.add_argument("--backoff-s", type=float, default=1.0, metavar="S",
                   help="wait before the first retry, doubled each time (default 1)")
    p.add_argument("--ambiguous-m", type=float, default=1000.0, metavar="M",
                   help="answers further apart than this are ambiguous (default 1000)")
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="data folder whose Shanghai outline decides 'outside Shanghai' "
                        "(default: the bundled data)")
    p.add_argument("--report", type=Path, default=None, metavar="PATH",
                   help="also write the unresolved rows (row, address, reason) to this CSV")
    p.add_argument("--progress-every", type=int, default=10, metavar="N",
                   help="when stderr is not a terminal, print progress every N rows")
    p.set_defaults(func=cmd_geocode)
    return p


class ProgressLine:
    """One progress line on a terminal (rewritten in place); a line every N rows otherwise."""

    def __init__(self, stream: TextIO, *, label: str, every: int,
                 is_tty: bool | None = None) -> None:
        self.stream = stream
        self.label = label
        self.every = max(1, every)
        self.is_tty = stream.isatty() if is_tty is None else is_tty
        self._last_draw = 0.0
        self._open = False

    def __call__(self, p: GeocodeProgress) -> None:
        percent = 100 * p.done // p.total if p.total else 100
        line = (f"geocode {self.label}: {p.done}/{p.total} rows ({percent}%) | filled {p.filled}"
                f" | cache hits {p.cache_hits} | failures {p.failures} | requests {p.requests}")
        if self.is_tty:
            now = time.monotonic()
            if p.done == p.total or now - self._last_draw >= 0.1:
                self.stream.write("\r" + line + "\x1b[K")
                self.stream.flush()
                self._last_draw, self._open = now, True
        elif p.done % self.every == 0 or p.done == p.total:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False



def format_summary(result: GeocodeResult, *, seconds: float) -> str:
    """The final counts and the list of unresolved rows (row number, address, reason)."""
    c = result.counts
    lines = [f"summary ({result.provider}, {c['rows']} rows, {seconds:.1f} s; "
             f"HTTP requests {c['requests']}, cache hits {c['cache_hits']})",
             f"  filled            {c['filled']:>6}",
             f"  kept              {c['kept']:>6}  (already had lon/lat; not geocoded)",
             f"  no match          {c['no_match']:>6}",
             f"  ambiguous         {c['ambiguous']:>6}",
             f"  outside Shanghai  {c['outside']:>6}",
             f"  errors            {c['errors']:>6}"]
    if c["no_address"]:
        lines.append(f"  no address        {c['no_address']:>6}")
    if c["bad_lonlat"]:
        lines.append(f"  bad lon/lat       {c['bad_lonlat']:>6}  (left as they were)")
    if c["not_attempted"]:
        lines.append(f"  not attempted     {c['not_attempted']:>6}  (run stopped)")
    if result.unresolved:
        width = min(40, max(display_width(u.address) for u in result.unresolved) + 2)
        lines.append(f"unresolved rows ({len(result.unresolved)}): row, address, reason")
        for u in result.unresolved:
            pad = " " * max(0, width - display_width(u.address))
            detail = f": {u.detail}" if u.detail else ""
            lines.append(f"  row {u.row:<5} {u.address}{pad}{u.reason}{detail}")
    return "\n".join(lines)


def cmd_geocode(args: argparse.Namespace, *, stderr: TextIO | None = None) -> int:
    """Run ``newtown geocode``: 0 when done, 2 on bad input, 3 when the provider stopped it.

    130 after Ctrl+C; a stopped or interrupted run leaves its rows in OUT.partial.csv.
    """
    err = stderr if stderr is not None else sys.stderr
    try:
        if args.output.exists() and args.input.exists() and args.output.samefile(args.input):
            raise UsageError(f"{args.output}: the output would overwrite the input; choose "
                             "another -o path (the input is never modified)")
        outline = shanghai_outline(args.data)
        geocoder = make_geocoder(args.provider, base_url=args.base_url, cache_path=args.cache,
                                 min_interval_s=args.min_interval_s, timeout_s=args.timeout_s,
                                 max_tries=args.max_tries, backoff_s=args.backoff_s)
    except DataError as exc:
        print(f"error: data problems\n{exc}", file=err)
        return 2
    except AtlasError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if outline is None:
        print("note: no Shanghai outline found; 'outside Shanghai' uses the bounding box only",
              file=err)
    progress = ProgressLine(err, label=args.provider, every=args.progress_every)
    started = time.monotonic()
    try:
        result = geocode_csv(args.input, args.output, geocoder,
                             address_column=args.address_column, city=args.city,
                             outline=outline, ambiguous_m=args.ambiguous_m,
                             on_progress=progress)
    except GeocodeStopError as stop:
        progress.close()
        if stop.result is not None:
            print(format_summary(stop.result, seconds=time.monotonic() - started), file=err)
            if args.report is not None:
                write_unresolved_csv(args.report, stop.result)
        who = "you" if stop.reason == "interrupted" else geocoder.label
        print(f"error: {who} stopped the run ({stop.reason}): {stop}", file=err)
        if stop.partial_path is not None:
            print(f"the rows done so far are in {stop.partial_path}; {args.output} was not "
                  "written. Answers are cached: a re-run resumes without paying for them again",
                  file=err)
        return 130 if stop.reason == "interrupted" else EXIT_STOPPED
    except DataError as exc:
        progress.close()
        print(f"error: data problems\n{exc}", file=err)
        return 2
    except AtlasError as exc:
        progress.close()
        print(f"error: {exc}", file=err)
        return 2
    except OSError as exc:
        progress.close()
        print(f"error: cannot write {args.output}: {exc}", file=err)
        return 2
    finally:
        geocoder.close()
    progress.close()
    print(format_summary(result, seconds=time.monotonic() - started), file=err)
    if args.report is not None:
        write_unresolved_csv(args.report, result)
        print(f"unresolved rows written to {args.report}", file=err)
    print(f"wrote {args.output} (UTF-8 with BOM): {result.counts['filled']} filled, "
          f"{len(result.unresolved)} unresolved, {result.counts['rows']} rows")
    return 0
