"""The `newtown serve` subcommand: run the dashboard (waitress, or Dash's debug server)."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard.cli._common import UsageError, add_data_option, load, report_errors

__all__ = ["add_serve_command", "cmd_serve"]


def add_serve_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``serve`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser("serve", help="run the dashboard")
    add_data_option(p, with_store=False)
    p.add_argument("--store", default=None, metavar="PATH",
                   help="serve an editable store: sign-in, review and history in the "
                        "dashboard; approved changes show within a second, without a restart")
    p.add_argument("--private", action="store_true",
                   help="with --store: every page needs a signed-in user (/healthz stays open)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--workers", type=int, default=8, metavar="N",
                   help="worker threads of the production server (waitress); default 8")
    p.add_argument("--debug", action="store_true",
                   help="use Dash's development server with its debugging tools instead")
    p.set_defaults(func=cmd_serve)
    return p


def cmd_serve(args: argparse.Namespace) -> int:
    """Run ``newtown serve`` until stopped; 2 with a message on bad data (no server then)."""
    return report_errors(_serve, args)


def _serve(args: argparse.Namespace) -> int:
    from dashboard.app import create_app

    if args.store is not None:
        return _serve_store(args)
    if args.private:
        raise UsageError("--private needs --store (accounts live in the store)")
    atlas = load(args)
    app = create_app(atlas)
    url = f"http://{args.host}:{args.port}/"
    print(f"New Town Atlas serving {len(atlas.facilities)} facilities from {atlas.data_dir}")
    if args.debug:
        print(f"open {url}  (Dash development server with debugging; Ctrl+C to stop)",
              flush=True)
        app.run(host=args.host, port=args.port, debug=True, use_reloader=False)
        return 0
    import waitress

    print(f"open {url}  (waitress, {args.workers} worker threads; Ctrl+C to stop)", flush=True)
    waitress.serve(app.server, host=args.host, port=args.port, threads=args.workers,
                   ident="newtown")
    return 0


def _serve_store(args: argparse.Namespace) -> int:
    """Serve a store under waitress, switching to each new approved revision as it lands."""
    import logging

    import waitress

    from dashboard.app import create_app
    from dashboard.storeapp import StoreServer
    from geo.store import open_store

    if args.data is not None:
        raise UsageError("give --data or --store, not both")
    if args.debug:
        raise UsageError("--debug serves a fixed Atlas; use it with --data")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # Alembic says how it runs a migration check at every open ("Context impl ..."): not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    store = open_store(args.store)
    server = StoreServer(store, create_app, private=args.private)
    url = f"http://{args.host}:{args.port}/"
    print(f"New Town Atlas serving the store {store.url}, revision {server.revision} "
          f"({len(store.snapshot()[1])} approved facilities)")
    print(f"open {url}  (waitress, {args.workers} worker threads; Ctrl+C to stop)", flush=True)
    try:
        waitress.serve(server, host=args.host, port=args.port, threads=args.workers,
                       ident="newtown")
    finally:
        server.close()
        store.close()
    return 0
