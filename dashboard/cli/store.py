"""The `newtown store` subcommands: create a store, dump it to a data folder, back it up."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dashboard.cli._common import report_errors
from geo.store import init_store, open_store

__all__ = ["add_store_command"]


def add_store_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``store init|dump|backup`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "store", help="the editable store (a GeoPackage file): init, dump, backup")
    actions = p.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    q = actions.add_parser("init", help="create a store from the bundled data or a data folder")
    q.add_argument("path", metavar="PATH", help="the new store file (e.g. atlas.gpkg)")
    q.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="DIR",
                   help="a folder laid out like data/ (default: the bundled data)")
    q.add_argument("--no-review", action="store_true",
                   help="apply every editor's change at once (a one-person team)")
    q.set_defaults(func=lambda a: report_errors(_init, a))
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
