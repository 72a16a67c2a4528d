"""The `newtown store` subcommands: create, upgrade, dump to a data folder, back up a store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dashboard.cli._common import report_errors
from geo.store import init_store, open_store, upgrade_store

__all__ = ["add_store_command"]


def add_store_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``store init|upgrade|dump|backup`` on the ``newtown`` parser's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "store", help="the editable store (a GeoPackage file or PostGIS): init, upgrade, dump, "
        "backup")
    actions = p.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    q = actions.add_parser("init", help="create a store from the bundled data or a data folder")
    q.add_argument("path", metavar="PATH", help="the new store file (e.g. atlas.gpkg)")
    q.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="DIR",
                   help="a folder laid out like data/ (default: the bundled data)")
    q.add_argument("--no-review", action="store_true",
                   help="apply every editor's change at once (a one-person team)")
    q.set_defaults(func=lambda a: report_errors(_init, a))
    q = actions.add_parser("upgrade", help="bring a store made by an older release to this "
                           "program's schema (one transaction; back it up first)")
    q.add_argument("path", metavar="PATH")
    q.set_defaults(func=lambda a: report_errors(_upgrade, a))
    q = actions.add_parser("dump", help="write the approved state as a data/-shaped folder")
    q.add_argument("path", metavar="PATH")
    q.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    q.set_defaults(func=lambda a: report_errors(_dump, a))
    q = actions.add_parser("backup", help="a consistent copy of the store, safe while serving")
    q.add_argument("path", metavar="PATH")
    q.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    q.set_defaults(func=lambda a: report_errors(_backup, a))
    return p


def _init(args: argparse.Namespace) -> int:
    with init_store(args.path, args.from_dir, review=not args.no_review) as store:
        _, table = store.snapshot()
        review = "on" if store.review_required else "off"
        print(f"created {store.url}: {len(table)} facilities, review {review}")
    print(f"next: newtown users add NAME --role admin --store {args.path}")
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    before, after = upgrade_store(args.path)
    if before == after:
        print(f"{args.path}: schema revision {after} already; nothing to do")
    else:
        print(f"upgraded {args.path}: schema revision {before} -> {after}")
    return 0


def _dump(args: argparse.Namespace) -> int:
    with open_store(args.path) as store:
        revision, table = store.snapshot()
        out = store.dump(args.output)
    print(f"wrote {out} (revision {revision}, {len(table)} facilities); "
          f"check it with: newtown check --data {out}")
    return 0


def _backup(args: argparse.Namespace) -> int:
    with open_store(args.path) as store:
        out = store.backup(args.output)
    print(f"wrote {out}")
    return 0
