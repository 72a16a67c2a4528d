"""The `newtown facility` subcommands: add, set, move, retire and revert facilities in a store."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard.cli._common import UsageError, add_store_options, report_errors
from geo.crs import convert
from geo.store import Change, open_store

__all__ = ["add_facility_command", "describe_change"]


def add_facility_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``facility add|set|move|retire|revert`` on the ``newtown`` subparsers object."""
    p: argparse.ArgumentParser = sub.add_parser(
        "facility", help="change a facility in a store (each change has a reason and a source)")
    actions = p.add_subparsers(dest="facility_command", required=True, metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("id", metavar="ID", help="the facility id")
        q.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in history)")
        q.add_argument("--source", required=True, metavar="TEXT",
                       help="the citation supporting the change")
        q.add_argument("--expect-version", type=int, default=None, metavar="N",
                       help="refuse if the facility is no longer at version N")
        add_store_options(q, user_help="the acting account (editor or higher)")

    q = actions.add_parser("add", help="a new facility: --field COLUMN=VALUE for each column")
    common(q)
    q.add_argument("--field", action="append", default=[], metavar="COLUMN=VALUE")
    q.set_defaults(func=lambda a: report_errors(_change, a), action="add")
    q = actions.add_parser("set", help="change columns: --field COLUMN=VALUE (repeat)")
    common(q)
    q.add_argument("--field", action="append", default=[], metavar="COLUMN=VALUE")
    q.set_defaults(func=lambda a: report_errors(_change, a), action="set")
    q = actions.add_parser("move", help="new coordinates, in the datum you give")
    common(q)
    q.add_argument("--lon", type=float, required=True)
    q.add_argument("--lat", type=float, required=True)
    q.add_argument("--datum", choices=("wgs84", "gcj02", "bd09"), required=True,
                   help="the datum of --lon/--lat; stored as WGS84")
    q.add_argument("--coord-source", default=None, metavar="TEXT")
    q.add_argument("--coord-precision-m", default=None, metavar="M")
    q.set_defaults(func=lambda a: report_errors(_change, a), action="move")
    q = actions.add_parser("retire", help="take out of service (kept, with --reason)")
    common(q)
    q.set_defaults(func=lambda a: report_errors(_change, a), action="retire")
    q = actions.add_parser("revert", help="back to an earlier version (a new change)")
    common(q)
    q.add_argument("--to-version", type=int, required=True, metavar="N")
    q.set_defaults(func=lambda a: report_errors(_change, a), action="revert")
    return p


def _fields(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or not column.strip():
            raise UsageError(f"--field {pair!r}: write COLUMN=VALUE")
        values[column.strip()] = value
    return values


def _values(args: argparse.Namespace) -> dict[str, str]:
    if args.action in {"add", "set"}:
        values = _fields(args.field)
        if not values:
            raise UsageError(f"facility {args.action} needs at least one --field COLUMN=VALUE")
        return values
    if args.action == "move":
        lon, lat = convert([args.lon], [args.lat], from_datum=args.datum, to_datum="wgs84")
        values = {"lon": f"{float(lon[0]):.6f}", "lat": f"{float(lat[0]):.6f}"}
        if args.coord_source is not None:
            values["coord_source"] = args.coord_source
        if args.coord_precision_m is not None:
            values["coord_precision_m"] = args.coord_precision_m
        return values
    if args.action == "revert":
        return {"to_version": str(args.to_version)}
    return {}


def describe_change(change: Change) -> str:
    """One line: what happened to the change and the facility."""
    if change.review_state == "proposed":
        return (f"change #{change.change_id} proposed: {change.action} {change.facility_id} "
                "waits for a reviewer (newtown review list)")
    return (f"change #{change.change_id} {change.review_state}: {change.action} "
            f"{change.facility_id}, now version {change.version} (revision {change.revision})")


def _change(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        change = store.propose(args.user, args.action, args.id, _values(args),
                               reason=args.reason, source=args.source,
                               expect_version=args.expect_version)
    print(describe_change(change))
    return 0
